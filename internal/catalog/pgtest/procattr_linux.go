package pgtest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// procAttr runs the server as cred (nil: as ourselves) in its own process group, and makes
// the kernel stop it if the test binary dies without cleaning up: SIGQUIT, PostgreSQL's
// immediate shutdown. (Pdeathsig fires when the thread that started the child exits; the Go
// runtime keeps its threads for the life of the process unless a goroutine exits while locked
// to one. Go sets it after the credentials, which would clear it.)
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
}

// children returns the processes whose parent is pid. PostgreSQL's backends each call setsid
// to lead a group of their own, so killing the postmaster's group leaves them running (an
// idle one even answers a query before it notices its postmaster is gone): Kill finds them
// here, before the postmaster dies and they are handed to init.
func children(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
		rest := string(data)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil && ppid == pid {
			if child, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
				out = append(out, child)
			}
		}
	}
	return out
}

// zombie reports whether pid has exited and waits to be reaped (by init, for an orphan).
func zombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	rest := string(data)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	return len(f) > 0 && f[0] == "Z"
}
