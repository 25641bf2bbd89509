package pgserver

import "syscall"

// hasPdeathsig: on Linux the kernel sends Pdeathsig to the cluster
// when this process dies, even by SIGKILL, so no watchdog is needed.
const hasPdeathsig = true

// procAttr puts the child in its own process group, so a Ctrl-C in the
// terminal reaches only this process, which then stops the cluster once;
// asks the kernel to send SIGINT to the child if this process dies; and
// runs it as cred when not nil. SIGINT is PostgreSQL's fast shutdown: it
// ends every session, where SIGTERM (smart shutdown) would wait for any
// other client, a psql say, to leave.
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGINT, Credential: cred}
}
