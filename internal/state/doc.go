// Package state keeps the graph on disk: it restores the saved graph at
// start, saves it periodically and at shutdown, crash-safely (write a
// temporary file, fsync it, rename it over the old one, fsync the
// directory), so that a restart neither forgets the topology nor makes
// every edge look new.
//
// # Start
//
// Open prepares the data directory: it creates it and removes the
// temporary files (graph.state.tmp-*) that interrupted saves left behind,
// counting and logging them. Load then restores the saved graph:
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
// # Concurrency
//
// A Saver's methods are called from one goroutine (the wiring); saving
// runs on its own goroutine between Start and Shutdown. Load must finish
// before the store is written to.
package state
