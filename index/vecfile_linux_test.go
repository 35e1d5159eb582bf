//go:build linux

package index

func linuxMapped() bool { return true }
