//go:build unix && !linux

package pgserver

import "syscall"

// hasPdeathsig: outside Linux there is no Pdeathsig; a watchdog
// process stops the cluster when this process dies.
const hasPdeathsig = false

// procAttr puts the child in its own process group, so a Ctrl-C in the
// terminal reaches only this process, which then stops the cluster once;
// and runs it as cred when not nil.
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}
