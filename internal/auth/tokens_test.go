package auth_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/servicegraph/servicegraph/internal/auth"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheck(t *testing.T) {
	tokens, err := auth.LoadFile(writeFile(t, "# ops team\nalpha\n\n  beta-2  \r\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		header string
		want   bool
	}{
		{"Bearer alpha", true},
		{"Bearer beta-2", true},
		{"bearer alpha", true},
		{"BEARER   alpha", true},
		{"Bearer alph", false},
		{"Bearer alphaa", false},
		{"Bearer # ops team", false},
		{"Bearer", false},
		{"Bearer ", false},
		{"Basic alpha", false},
		{"alpha", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			if got := tokens.Check(tt.header); got != tt.want {
				t.Errorf("Check(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
	var none *auth.Tokens
	if none.Check("Bearer alpha") {
		t.Error("nil *Tokens accepted a token")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		wantHas string
	}{
		{name: "missing file", path: filepath.Join(t.TempDir(), "nope"), wantHas: "nope"},
		{name: "only comments", path: writeFile(t, "# nothing\n\n"), wantHas: "holds no token"},
		{name: "space inside token", path: writeFile(t, "good\nsecret part\n"), wantHas: "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auth.Config{BearerTokenFile: tt.path}.Load()
			if err == nil || !strings.Contains(err.Error(), tt.wantHas) {
				t.Fatalf("Load() error = %v, want it to contain %q", err, tt.wantHas)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error %q leaks the token", err)
			}
		})
	}
	if tok, err := (auth.Config{}).Load(); tok != nil || err != nil {
		t.Fatalf("disabled Load() = %v, %v; want nil, nil", tok, err)
	}
	if _, err := auth.New("a b"); err == nil {
		t.Fatal("New accepted a token with a space")
	}
	if _, err := auth.New(); err == nil {
		t.Fatal("New accepted no token")
	}
}
