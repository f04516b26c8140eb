//go:build unix

package state

import "syscall"

// openFlags open the state file without blocking, should it have become a
// named pipe between the check and the open.
const openFlags = syscall.O_NONBLOCK
