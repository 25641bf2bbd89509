//go:build unix

package pgserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"
)

// process is one run of postgres.
type process struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed when it has exited
	err      error         // how it exited; read after done
	stopping atomic.Bool
	watchdog *watchdog // nil on Linux

	fastShutdown, quitTimeout time.Duration
}

func newProcess(cmd *exec.Cmd) *process {
	return &process{cmd: cmd, done: make(chan struct{}), fastShutdown: fastShutdown, quitTimeout: quitTimeout}
}

func (p *process) wait(log *slog.Logger) {
	p.err = p.cmd.Wait()
	close(p.done)
	if !p.stopping.Load() {
		log.Error("pgserver: PostgreSQL exited on its own; see postgres.log", "pid", p.cmd.Process.Pid, "err", p.err)
	}
}

// stop asks for a fast shutdown, then an immediate one after fastShutdown
// or when ctx ends, then kills.
func (p *process) stop(ctx context.Context) error {
	p.stopping.Store(true)
	defer p.watchdog.disarm()
	p.signal(syscall.SIGINT)
	if p.exited(ctx, p.fastShutdown) {
		if p.err != nil {
			return fmt.Errorf("postgres exited: %w", p.err)
		}
		return nil
	}
	p.signal(syscall.SIGQUIT)
	if p.exited(context.Background(), p.quitTimeout) {
		return errors.New("postgres did not finish a fast shutdown; sent SIGQUIT (immediate shutdown, recovery at next start)")
	}
	p.signal(syscall.SIGKILL)
	<-p.done
	return errors.New("postgres ignored SIGINT and SIGQUIT; killed it")
}

// signal sends sig; a postgres already gone needs none.
func (p *process) signal(sig syscall.Signal) {
	p.cmd.Process.Signal(sig)
}

func (p *process) exited(ctx context.Context, within time.Duration) bool {
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}
