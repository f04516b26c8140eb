package logging_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/servicegraph/servicegraph/internal/logging"
)

func TestOrDiscard(t *testing.T) {
	if l := logging.OrDiscard(nil); l == nil || l.Enabled(context.Background(), slog.LevelError) {
		t.Fatalf("OrDiscard(nil) = %v: want a logger that discards every level", l)
	}
	l := slog.New(slog.DiscardHandler)
	if logging.OrDiscard(l) != l {
		t.Fatal("OrDiscard(l) is not l")
	}
}
