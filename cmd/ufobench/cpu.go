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

// cpuSince describes the CPU use between m and now: how busy the machine's
// processors were, and how much of that was this process; the rest is
// PostgreSQL's (and anything else running).
func (m cpuMark) since() string {
	n := markCPU()
	wall := n.at.Sub(m.at).Seconds()
	busy, idle := n.busy-m.busy, n.idle-m.idle
	if wall <= 0 || busy+idle <= 0 {
		return "CPU use unknown"
	}
	cpus := float64(runtime.NumCPU())
	self := (n.self - m.self) / wall
	all := busy / (busy + idle) * cpus
	return fmt.Sprintf("CPU busy %.0f%% of %d cores (this process, server and clients, %.2f cores; PostgreSQL and the rest %.2f cores)",
		100*busy/(busy+idle), int(cpus), self, max(all-self, 0))
}
