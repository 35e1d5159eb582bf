package s3test

import "syscall"

// procAttr makes the kernel kill a gateway if the test binary dies without cleaning up.
// (Pdeathsig fires when the thread that started the child exits; the Go runtime keeps its
// threads for the life of the process unless a goroutine exits while locked to one.)
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
