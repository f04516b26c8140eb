package main

import (
	"context"

	"github.com/servicegraph/servicegraph/api"
	"github.com/servicegraph/servicegraph/internal/state"
	"github.com/servicegraph/servicegraph/pairing"
	"github.com/servicegraph/servicegraph/receiver"
)

// component is the lifecycle of every part serve starts (the Collector's
// component.Component): Start returns quickly, refuses a context already
// ended and a second call, and leaves its background work on a context of
// its own; Shutdown stops that work, honouring its context's deadline, and
// is safe without Start and when called twice. TestComponentLifecycle
// holds every component to it. (render.Renderer has no background work to
// start: it is only closed.)
type component interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

var (
	_ component = (*receiver.Receiver)(nil)
	_ component = (*api.Server)(nil)
	_ component = (*pairing.Processor)(nil)
	_ component = (*state.Saver)(nil)
)
