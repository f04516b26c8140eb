package consumer_test

import (
	"errors"
	"testing"
	"time"

	"github.com/servicegraph/servicegraph/consumer"
)

func TestClassify(t *testing.T) {
	base := errors.New("pending table full")
	r := consumer.NewRetryable(base, 2*time.Second)
	if d, ok := consumer.IsRetryable(r); !ok || d != 2*time.Second {
		t.Fatalf("IsRetryable = %v, %v; want 2s, true", d, ok)
	}
	if !errors.Is(r, base) {
		t.Fatal("retryable error does not unwrap to its cause")
	}
	if _, ok := consumer.IsRetryable(base); ok {
		t.Fatal("plain error reported retryable")
	}
	p := error(&consumer.PartialError{Rejected: 3, Reason: "3 spans with an invalid span id"})
	if got, ok := consumer.AsPartial(p); !ok || got.Rejected != 3 {
		t.Fatalf("AsPartial = %v, %v", got, ok)
	}
	if p.Error() != "3 spans rejected: 3 spans with an invalid span id" {
		t.Fatalf("Error() = %q", p.Error())
	}
}
