//go:build !unix

package state

// openFlags: no non-blocking open outside Unix; the type check before the
// open still applies.
const openFlags = 0
