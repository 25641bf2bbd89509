package pilot

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// family is the processes of one pilot: its process group, every
// descendant seen while it ran, and every process started since that
// carries the run's mark in its environment. Descendants may leave the
// group: claude runs each Bash command in a session of its own, so killing
// the group alone would leave them running; and one orphaned before any
// scan saw it (`setsid server &` from a shell that exits at once) is found
// by its mark. They are found by walking /proc (Linux); elsewhere the
// family is the process group.
type family struct {
	pgid int
	// mark is the value of markVar in the pilot's environment, which its
	// descendants inherit; leaderStart the leader's start time (only
	// processes started after it are read for the mark).
	mark        []byte
	leaderStart uint64
	mu          sync.Mutex
	// seen maps the pid of each descendant found to its start time, which
	// tells it apart from a later process that reuses the pid.
	seen map[int]uint64
}

// markVar is the environment variable that marks a pilot's processes.
const markVar = "UFO_PILOT_RUN"

func newFamily(pgid int, mark string) *family {
	f := &family{pgid: pgid, seen: map[int]uint64{}}
	if mark != "" {
		f.mark = []byte("\x00" + markVar + "=" + mark + "\x00")
	}
	if p, ok := readProc(pgid); ok {
		f.leaderStart = p.start
	}
	return f
}

// marked reports whether process pid carries the family's mark.
func (f *family) marked(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil || len(f.mark) == 0 {
		return false
	}
	// Every variable ends in NUL; the first has none before it.
	return bytes.Contains(append([]byte{0}, b...), f.mark)
}

// proc is one line of /proc/PID/stat, the fields a family needs.
type proc struct {
	ppid, pgrp int
	state      byte
	start      uint64
}

func (p proc) live() bool { return p.state != 'Z' && p.state != 'X' }

// readProcs reads every process's stat; ok is false without procfs.
func readProcs() (map[int]proc, bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	procs := make(map[int]proc, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			procs[pid] = p
		}
	}
	return procs, true
}

func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return proc{}, false
	}
	// pid (comm) state ppid pgrp session … starttime is the 20th field
	// after comm, which may contain spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return proc{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) == 0 {
		return proc{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return proc{}, false
	}
	return proc{ppid: ppid, pgrp: pgrp, state: f[0][0], start: start}, true
}

// scan adds the family's new descendants to seen and forgets the dead. It
// returns the live members: group members and descendants.
func (f *family) scan() (live []int, ok bool) {
	procs, ok := readProcs()
	if !ok {
		return nil, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for pid, start := range f.seen {
		if p, found := procs[pid]; !found || p.start != start || !p.live() {
			delete(f.seen, pid)
		}
	}
	children := map[int][]int{}
	for pid, p := range procs {
		children[p.ppid] = append(children[p.ppid], pid)
	}
	// Walk down from the leader, the group's members and the descendants
	// seen before, which may have been orphaned since.
	var stack []int
	if p, found := procs[f.pgid]; found && p.pgrp == f.pgid {
		stack = append(stack, f.pgid)
	}
	for pid, p := range procs {
		if p.pgrp == f.pgid {
			stack = append(stack, pid)
		}
	}
	for pid := range f.seen {
		stack = append(stack, pid)
	}
	known := map[int]bool{}
	for _, pid := range stack {
		known[pid] = true
	}
	for pid, p := range procs {
		if !known[pid] && p.live() && p.start >= f.leaderStart && f.leaderStart > 0 && f.marked(pid) {
			stack = append(stack, pid)
		}
	}
	member := map[int]bool{}
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if member[pid] {
			continue
		}
		member[pid] = true
		stack = append(stack, children[pid]...)
	}
	for pid := range member {
		p := procs[pid]
		if !p.live() {
			continue
		}
		live = append(live, pid)
		if pid != f.pgid {
			f.seen[pid] = p.start
		}
	}
	return live, true
}

// alive reports whether a process of the family still runs. Zombies do not
// count: the leader is reaped by Wait, but orphans are reaped by whatever
// process adopts them, maybe never (some containers' init does not).
func (f *family) alive() bool {
	live, ok := f.scan()
	if !ok {
		return !errors.Is(syscall.Kill(-f.pgid, 0), syscall.ESRCH)
	}
	return len(live) > 0
}

// signal sends sig to the process group and to every live descendant.
func (f *family) signal(sig syscall.Signal) {
	_ = syscall.Kill(-f.pgid, sig)
	live, _ := f.scan()
	for _, pid := range live {
		_ = syscall.Kill(pid, sig)
	}
}

// watch scans the family every interval until stop is closed, so that
// descendants are known before their parent dies and orphans them.
func (f *family) watch(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			f.scan()
		}
	}
}

// stop ends every process of the family: SIGTERM, then SIGKILL for those
// left after grace. It returns once none runs, or after killGiveUp seconds
// of SIGKILL: a process stuck in uninterruptible sleep may outlast any
// bound, and Run must not hang on it.
func (f *family) stop(grace time.Duration) {
	if !f.alive() {
		return
	}
	f.signal(syscall.SIGTERM)
	if f.waitGone(grace) {
		return
	}
	for range killGiveUp {
		f.signal(syscall.SIGKILL)
		if f.waitGone(time.Second) {
			return
		}
	}
}

func (f *family) waitGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !f.alive() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
