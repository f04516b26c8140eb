// Package render is the Graphviz engine: it lays out the DOT text of
// package picture (the render vocabulary: formats, options, errors, DOT)
// as SVG or PNG, with size bounds, a real deadline, a cache and shared
// concurrent renders.
//
// Importing this package costs every binary go-graphviz's init (~35-80 ms,
// ~0.9 s and 38 MB the first time on a machine). That is why the
// vocabulary lives in package picture: the API and the CLI import it, and
// only main (which also runs the render worker) imports render. Keep the
// import out of packages that do not draw.
//
// # Bounds and the deadline
//
// Graphviz layout cost explodes with size, go-graphviz ignores contexts and
// is not safe for concurrent use (one WASM module per process), and its WASM
// memory never shrinks. So:
//
//   - Render refuses views above Config.MaxNodes or MaxEdges with
//     picture.ErrTooLarge before any layout; the message has the counts
//     and the limits (callers add picture.HintURL or HintFlags).
//   - By default (child-process mode) each layout runs in a child process:
//     the current executable (os.Executable) started with WorkerArg, DOT on
//     stdin, the picture on stdout. At the deadline (Config.Timeout, or the
//     caller's context if sooner) the child is killed and Render returns
//     picture.ErrTimeout; WASM memory dies with the child. At most
//     Config.Workers children run at once. Every binary that creates a
//     Renderer this way must call WorkerMain first thing (main does; so
//     do the TestMains of this package and of cmd/servicegraph).
//   - With Config.InProcess layouts run in this process, one at a time
//     under a package-level lock (the library's state is global). A layout
//     past its deadline cannot be stopped: the caller gets
//     picture.ErrTimeout at the deadline, the layout finishes in the
//     background holding the lock, and Close waits for it.
//   - picture.Options.Scale zooms a PNG as a whole (text, lines, shapes;
//     the same layout) through Graphviz's viewport, set after the one
//     layout from its bounding box; the worker gets the scale as its
//     argument after the format. DOT and SVG ignore it.
//
// A child process is not killed if the server dies with SIGKILL; it exits
// when its layout ends.
//
// # Cache and sharing
//
// Render's key names the input (for the API: the view's topology, window and
// filters); the format and the normalised options are added to it. Results
// are cached, least recently used first out, within Config.CacheEntries and
// CacheBytes; concurrent calls with the same key share one render
// (singleflight). A shared render runs on the renderer's own context within
// Config.Timeout, so a caller that gives up early does not cancel it for the
// others; its result still fills the cache. Errors are not cached.
//
// # Concurrency and ownership
//
// A Renderer is safe for concurrent use. Render only reads the view, and
// only before it returns. The bytes it returns may be shared with the cache
// and other callers: do not modify them. Close stops the workers (running
// children are killed), waits for running renders and frees the in-process
// graphviz instance; it is safe to call twice, and Render fails with
// ErrClosed afterwards.
//
// # Metrics
//
// On Settings.Registerer (a private registry when nil, never the global
// one):
//
//   - servicegraph_render_total{format, result}: counter of Render calls;
//     result is ok, cached, too_large, timeout or error; format is dot, svg,
//     png, or "invalid" for an unknown format.
//   - servicegraph_render_seconds{format}: histogram of the time spent
//     producing pictures that were not cached (DOT generation and layout),
//     one observation per shared render, failed or timed out ones included.
//   - servicegraph_render_cache_bytes: gauge, bytes held by the cache.
package render
