//go:build !unix

package netlimit

func fileLimit() (uint64, bool) { return 0, false }
