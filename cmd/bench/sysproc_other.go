//go:build !linux

package main

import "syscall"

// sysProcAttr puts each child in its own process group, so a Ctrl-C at the
// terminal reaches only the harness, which then stops the children in
// order. (Only Linux can also tie the child's life to the harness's.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
