package auth

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Config selects the token file. The zero value disables authentication.
type Config struct {
	// BearerTokenFile holds the accepted tokens, one a line.
	BearerTokenFile string `yaml:"bearer_token_file"`
}

// Enabled reports whether a token file is configured.
func (c Config) Enabled() bool { return c.BearerTokenFile != "" }

// Load reads the token file; it returns nil, nil when auth is disabled.
func (c Config) Load() (*Tokens, error) {
	if !c.Enabled() {
		return nil, nil
	}
	return LoadFile(c.BearerTokenFile)
}

// Tokens is an immutable set of accepted bearer tokens.
type Tokens struct {
	digests [][sha256.Size]byte
}

// New returns the set of the given tokens. Tokens must be non-empty and
// hold no whitespace.
func New(tokens ...string) (*Tokens, error) {
	if len(tokens) == 0 {
		return nil, errors.New("auth: no bearer token given")
	}
	t := &Tokens{}
	for i, tok := range tokens {
		if tok == "" || strings.ContainsFunc(tok, isSpace) {
			return nil, fmt.Errorf("auth: token %d is empty or holds whitespace", i+1)
		}
		t.digests = append(t.digests, sha256.Sum256([]byte(tok)))
	}
	return t, nil
}

// LoadFile reads tokens from path, one a line. Surrounding whitespace is
// trimmed; blank lines and lines starting with '#' are skipped.
func LoadFile(path string) (*Tokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read bearer_token_file: %w", err)
	}
	var tokens []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		tok := strings.TrimSpace(sc.Text())
		if tok == "" || strings.HasPrefix(tok, "#") {
			continue
		}
		if strings.ContainsFunc(tok, isSpace) {
			return nil, fmt.Errorf("auth: bearer_token_file %q line %d: a token holds whitespace", path, line)
		}
		tokens = append(tokens, tok)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("auth: read bearer_token_file %q: %w", path, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("auth: bearer_token_file %q holds no token", path)
	}
	return New(tokens...)
}

// Check reports whether header, the value of an Authorization header or
// metadata entry ("Bearer <token>", scheme case-insensitive), carries an
// accepted token. It takes the same time whichever token matches.
func (t *Tokens) Check(header string) bool {
	if t == nil {
		return false
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" {
		return false
	}
	got := sha256.Sum256([]byte(tok))
	match := 0
	for i := range t.digests {
		match |= subtle.ConstantTimeCompare(got[:], t.digests[i][:])
	}
	return match == 1
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
}
