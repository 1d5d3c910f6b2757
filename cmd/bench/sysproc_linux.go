package main

import "syscall"

// sysProcAttr puts each child in its own process group, so a Ctrl-C at the
// terminal reaches only the harness, which then stops the children in
// order; and has the kernel kill the child if the harness dies without
// cleaning up (kill -9), so no server is left listening.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
