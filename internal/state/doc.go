// Package state keeps the graph on disk: it restores the saved graph at
// start, saves it periodically and at shutdown, crash-safely (write a
// temporary file, fsync it, rename it over the old one, fsync the
// directory), so that a restart neither forgets the topology nor makes
// every edge look new.
//
// # Start
//
// Open prepares the data directory: it creates it, removes the temporary
// files (graph.state.tmp-*) that interrupted saves left behind, counting
// and logging them, and checks that it can save there by doing what a
// save does (create, write, fsync, rename a probe file, fsync the
// directory): an unwritable directory is an error at start, not a loss
// found at shutdown. Load then restores the saved graph:
//
//   - no file: the service starts empty;
//   - a corrupt or unreadable file: moved aside (graph.state.corrupt-<ns>),
//     counted and logged, and the service starts empty;
//   - a file of a newer format: refused with a clear error, so that an
//     older build never overwrites it;
//   - something that is not a regular file (a named pipe, a directory, a
//     device, a socket, or a symbolic link to one): refused with a clear
//     error, never opened for reading (a pipe would block forever) and never
//     moved aside (only this package writes that path, always as a regular
//     file: anything else was put there by someone, who should look at it);
//   - Load stops reading when its context ends, and then returns the
//     context's error, leaving the file untouched.
//
// # Saving
//
// Saves run every interval between Start and Shutdown, and once more at
// Shutdown; none runs before Load succeeded (it would replace the file
// with an empty graph). Only the save at Shutdown marks the file clean
// (graph.Store.WriteFinalState), and Load saves once right after a
// restore, overwriting the mark: a file left by a crash or kill -9 is never clean,
// so the next process starts its exported counters from zero (a reset)
// rather than below what Prometheus last saw (graph.Snapshot.Base). A failed save is counted
// (servicegraph_state_saves_total{result="error"}) and logged, and Failing
// reports it until a save works again.
//
// # Concurrency
//
// Start and Shutdown follow the lifecycle of every component serve starts:
// Start(ctx) refuses an ended context and a second call; Shutdown(ctx) is
// safe without Start and twice, and returns ctx's error if ctx ends while a
// periodic save is still being written. The last save, at Shutdown, is
// logged with the file's path, size and duration.
//
// A Saver's methods are called from one goroutine (the wiring), except
// Failing, which is safe for concurrent use and never waits for a save;
// saving runs on its own goroutine between Start and Shutdown. Load must
// finish before the store is written to.
package state
