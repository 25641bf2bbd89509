//go:build unix

package pgserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrAlreadyRunning means a live PostgreSQL already serves the data folder,
// for instance a second ufo server started on the same home.
var ErrAlreadyRunning = errors.New("PostgreSQL is already running on this data folder")

// checkPIDFile looks at the postmaster.pid a previous run left in data. A
// live postgres on this folder is an error. A PID now used by another
// program (after a reboot, or in a restarted container) would make
// PostgreSQL refuse to start, so that file is removed. A file whose PID is
// dead stays: PostgreSQL replaces it itself, after checking that no process
// of the crashed server still holds its shared memory, a check that
// removing the file would skip.
func checkPIDFile(data string, log *slog.Logger) error {
	path := filepath.Join(data, "postmaster.pid")
	pid, err := readPID(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		log.Warn("pgserver: removing unreadable postmaster.pid", "path", path, "err", err)
		return removePIDFile(path)
	}
	switch {
	case !processAlive(pid):
		log.Info("pgserver: postmaster.pid names a dead process; PostgreSQL will recover", "pid", pid)
		return nil
	case isPostgresOn(pid, data):
		return fmt.Errorf("%w: pid %d serves %s (is another ufo server using this home?)", ErrAlreadyRunning, pid, data)
	default:
		log.Warn("pgserver: removing stale postmaster.pid: its pid now belongs to another program", "pid", pid, "path", path)
		return removePIDFile(path)
	}
}

func readPID(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("read %s: no pid on its first line", path)
	}
	return pid, nil
}

func removePIDFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale %s: %w", path, err)
	}
	return nil
}

// processAlive reports whether pid runs. EPERM means it exists but belongs
// to another user.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	// A zombie has exited; only its exit status waits to be collected.
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return false
		}
	}
	return true
}

// isPostgresOn reports whether pid is a postgres process, and, where /proc
// tells a process's working folder (Linux), one working in data: postgres
// changes into its data folder at start.
func isPostgresOn(pid int, data string) bool {
	name := processName(pid)
	if name != "postgres" && name != "postmaster" {
		return false
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return true
	}
	real, err := filepath.EvalSymlinks(data)
	if err != nil {
		real = data
	}
	return cwd == real
}

// processName returns the command name of pid, from /proc where there is
// one, else from ps (macOS, BSD).
func processName(pid int) string {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
		return strings.TrimSpace(string(b))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ps", "-o", "comm=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return ""
	}
	return filepath.Base(strings.TrimSpace(string(out)))
}
