package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuMark is a reading of the machine's and this process's CPU time, to
// say whether a figure was bound by the processors and who used them.
type cpuMark struct {
	at         time.Time
	busy, idle float64 // machine-wide seconds, from /proc/stat
	self       float64 // this process (server and clients), seconds
}

func markCPU() cpuMark {
	m := cpuMark{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		m.self = tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return m
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal
	if len(f) < 9 || f[0] != "cpu" {
		return m
	}
	ticks := make([]float64, 8)
	for i := range ticks {
		ticks[i], _ = strconv.ParseFloat(f[i+1], 64)
	}
	const hz = 100 // USER_HZ, fixed at 100 on Linux for /proc/stat
	m.idle = (ticks[3] + ticks[4]) / hz
	m.busy = (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]) / hz
	return m
}

func tvSeconds(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

// cpuUse is the CPU spent between two marks, in seconds of one core: by
// the whole machine (busy, summed over its cores) and by this process
// (self); wall is the time between.
type cpuUse struct{ wall, busy, idle, self float64 }

func (m cpuMark) use() cpuUse {
	n := markCPU()
	return cpuUse{wall: n.at.Sub(m.at).Seconds(), busy: n.busy - m.busy, self: n.self - m.self, idle: n.idle - m.idle}
}

// since describes the CPU use between m and now: how busy the machine's
// processors were, and how much of that was this process; the rest is
// PostgreSQL's (and anything else running).
func (m cpuMark) since() string { return m.use().String() }

func (u cpuUse) String() string {
	if u.wall <= 0 || u.busy+u.idle <= 0 {
		return "CPU use unknown"
	}
	cpus := float64(runtime.NumCPU())
	self := u.self / u.wall
	all := u.busy / (u.busy + u.idle) * cpus
	return fmt.Sprintf("CPU busy %.0f%% of %d cores (this process, server and clients, %.2f cores; PostgreSQL and the rest %.2f cores)",
		100*u.busy/(u.busy+u.idle), int(cpus), self, max(all-self, 0))
}
