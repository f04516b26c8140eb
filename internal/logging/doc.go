// Package logging holds the one default every component takes when its
// Settings carry no logger: a logger that discards everything. A component
// given none stays silent; it never writes to the process-wide
// slog.Default, which a test or an embedding program did not ask for.
// Stateless; safe for concurrent use.
package logging
