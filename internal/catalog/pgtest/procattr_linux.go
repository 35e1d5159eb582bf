package pgtest

import "syscall"

// procAttr runs the server as cred (nil: as ourselves), in its own process group (so Kill
// takes its backends too), and makes the kernel stop it if the test binary dies without
// cleaning up: SIGQUIT, PostgreSQL's immediate shutdown. (Pdeathsig fires when the thread
// that started the child exits; the Go runtime keeps its threads for the life of the process
// unless a goroutine exits while locked to one. Go sets it after the credentials, which would
// clear it.)
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
}
