//go:build unix

package pgserver

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// watchdog sends SIGINT (fast shutdown) to postgres when this process dies,
// where the kernel offers no Pdeathsig. It is a shell blocked reading a pipe
// whose only writer is this process: when this process dies, even by
// SIGKILL, the kernel closes the pipe, the read returns, and the shell sends
// the signal.
type watchdog struct {
	cmd  *exec.Cmd
	pipe *os.File
}

func startWatchdog(pid int) (*watchdog, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start watchdog: %w", err)
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", `read -r line; kill -INT "$1" 2>/dev/null`, "ufo-pgwatchdog", strconv.Itoa(pid))
	cmd.Stdin = r
	// Its own process group, so a Ctrl-C in the terminal does not kill it
	// before it could act.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start watchdog: %w", err)
	}
	return &watchdog{cmd: cmd, pipe: w}, nil
}

// disarm ends the watchdog without letting it signal: it is killed before
// the pipe closes.
func (d *watchdog) disarm() {
	if d == nil {
		return
	}
	d.cmd.Process.Kill()
	d.cmd.Wait()
	d.pipe.Close()
}
