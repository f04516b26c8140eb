package picture

import "errors"

// Errors a renderer wraps, that callers branch on (the API maps them to
// HTTP codes, the CLI to messages). Their wrapped messages give the counts
// and limits, never a hint in a caller's syntax: the caller appends
// HintURL or HintFlags.
var (
	// ErrTooLarge: the view has more nodes or edges than the renderer
	// draws; nothing was laid out.
	ErrTooLarge = errors.New("graph too large to draw")
	// ErrTimeout: the layout did not finish before the deadline (the
	// configured timeout or the caller's, whichever came first).
	ErrTimeout = errors.New("drawing took too long")
)

// How to narrow a graph that is too large or too slow to draw, in the
// syntax of the API (URL parameters) and of the render command (flags).
const (
	HintURL   = "narrow the graph: pick a service with service=<name>&depth=1, or fewer kinds with kinds=call,messaging_system"
	HintFlags = "narrow the graph: pick a service with -service NAME -depth 1, or fewer kinds with -kinds call,messaging_system"
)
