package render

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/render/picture"
)

// TestInProcessLock: a caller waiting for the graphviz lock gives up at its
// deadline; once the lock is free the engine renders; after close it refuses.
func TestInProcessLock(t *testing.T) {
	dot := []byte(`digraph "g" { a -> b }`)
	e := &inProcess{}
	if err := lockGraphviz(t.Context()); err != nil { // another layout is running
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err := e.layout(ctx, dot, picture.SVG, zoom{scale: 1, maxPixels: 1})
	unlockGraphviz()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	out, err := e.layout(t.Context(), dot, picture.SVG, zoom{scale: 1, maxPixels: 1})
	if err != nil || !bytes.Contains(out, []byte("<svg")) {
		t.Fatalf("layout = %.40q, %v", out, err)
	}
	if err := e.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.layout(t.Context(), dot, picture.SVG, zoom{scale: 1, maxPixels: 1}); !errors.Is(err, ErrClosed) {
		t.Errorf("after close: %v, want ErrClosed", err)
	}
}

// TestInProcessOverrun: a real layout that outlives its deadline answers at
// the deadline, keeps the lock until it ends, and close waits for it.
func TestInProcessOverrun(t *testing.T) {
	var dot bytes.Buffer
	if err := picture.WriteDOT(&dot, overrunView(), picture.Options{}); err != nil {
		t.Fatal(err)
	}
	e := &inProcess{}
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	if _, err := e.layout(ctx, dot.Bytes(), picture.SVG, zoom{scale: 1, maxPixels: 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if err := e.close(); err != nil { // waits for the background layout
		t.Fatal(err)
	}
	if err := lockGraphviz(t.Context()); err != nil {
		t.Fatal(err)
	}
	unlockGraphviz()
}

func TestCache(t *testing.T) {
	t.Run("entries", func(t *testing.T) {
		c := newCache(2, 100)
		c.add("a", []byte("aaaa"))
		c.add("b", []byte("bbbb"))
		if _, ok := c.get("a"); !ok { // a is now the most recent
			t.Fatal("a missing")
		}
		c.add("c", []byte("cc"))
		if _, ok := c.get("b"); ok {
			t.Error("b, the least recent, was not evicted")
		}
		if _, ok := c.get("a"); !ok {
			t.Error("a evicted")
		}
	})
	t.Run("bytes", func(t *testing.T) {
		c := newCache(10, 10)
		c.add("a", []byte("aaaa"))
		c.add("b", []byte("bbbb"))
		c.add("c", []byte("cccc")) // 12 bytes: a goes
		if _, ok := c.get("a"); ok {
			t.Error("a not evicted by the byte bound")
		}
		c.add("b", []byte("b")) // replacing shrinks
		if c.size() != 5 {
			t.Errorf("size = %v, want 5", c.size())
		}
		c.add("huge", make([]byte, 11))
		if _, ok := c.get("huge"); ok {
			t.Error("an entry above the byte bound was kept")
		}
	})
	t.Run("off", func(t *testing.T) {
		c := newCache(0, 10)
		c.add("a", []byte("a"))
		if _, ok := c.get("a"); ok {
			t.Error("disabled cache kept an entry")
		}
	})
}
