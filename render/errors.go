package render

import "errors"

// Errors callers branch on (the API maps them to HTTP codes).
var (
	// ErrTooLarge: the view has more nodes or edges than the configuration
	// allows; nothing was laid out. The wrapped message has the counts and a
	// hint to narrow the query.
	ErrTooLarge = errors.New("graph too large to render")
	// ErrTimeout: the layout did not finish before the deadline (the
	// configured timeout or the caller's context, whichever came first).
	ErrTimeout = errors.New("render timed out")
	// ErrClosed: Render was called on, or interrupted by, Close.
	ErrClosed = errors.New("renderer closed")
)

// narrowHint ends ErrTooLarge and ErrTimeout messages.
const narrowHint = "narrow the graph with service=<name>&depth=1 or kinds=call,messaging_system"
