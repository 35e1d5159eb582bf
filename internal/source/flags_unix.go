//go:build unix

package source

import "syscall"

// openFlags keeps opening a file that turned into a named pipe from blocking.
const openFlags = syscall.O_NONBLOCK
