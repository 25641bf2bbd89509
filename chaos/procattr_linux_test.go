//go:build linux

package chaos

import "syscall"

// procAttr makes a child die with the test binary (a test timeout must not
// leave servers and rovers behind).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
