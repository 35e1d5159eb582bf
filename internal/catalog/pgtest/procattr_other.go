//go:build !linux

package pgtest

import "syscall"

func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true}
}

// children is not known here: Kill takes the postmaster's group only.
func children(int) []int { return nil }

func zombie(int) bool { return true }
