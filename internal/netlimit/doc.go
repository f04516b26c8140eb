// Package netlimit caps the connections a listener holds open, and checks
// the caps against the process's open-file limit, so that a flood of idle
// connections cannot take the file descriptors the rest of the service
// needs (its API, its state file).
//
// Contract:
//   - A Listener accepts at most its cap of connections open at once. A
//     connection accepted past the cap is closed at once (the client sees
//     the connection end before any byte) and reported to the Listener's
//     onRefuse callback, so that the caller counts it; Accept never waits
//     for a free place, which would leave connections piling up in the
//     kernel's backlog unanswered. A connection frees its place when it is
//     closed, once, however often Close is called.
//   - A Listener is safe for concurrent use, as a net.Listener must be.
//   - CheckFiles compares the descriptors a configuration needs with the
//     open-file limit (RLIMIT_NOFILE; Go raises the soft limit to the hard
//     one at start on Linux) and reports a shortfall as an error naming
//     both numbers. Where the limit cannot be read it reports nothing.
package netlimit
