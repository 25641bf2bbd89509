package rover

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ufo-run/ufo/rover/wire"
)

// profile describes this host, as sent on enroll and on every (re)connect.
func profile(ctx context.Context, cfg Config) wire.Profile {
	host, _ := os.Hostname()
	pilots := cfg.Detect(ctx)
	if pilots == nil {
		pilots = []wire.CLI{}
	}
	return wire.Profile{
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		Hostname:   host,
		CPUs:       runtime.NumCPU(),
		MemoryMB:   memoryMB(ctx),
		DiskFreeMB: diskFreeMB(cfg.Outpost),
		Git:        gitVersion(ctx),
		Pilots:     pilots,
		Tags:       cfg.Tags,
		Version:    cfg.Version,
	}
}

// gitVersion is "2.39.5" from "git version 2.39.5", or "" without git.
func gitVersion(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "--version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "git version ")
}

// memoryMB is the host's total memory: MemTotal of /proc/meminfo on Linux,
// hw.memsize on macOS, 0 where neither answers.
func memoryMB(ctx context.Context) int64 {
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		return memTotalMB(b)
	}
	if runtime.GOOS == "darwin" {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "sysctl", "-n", "hw.memsize").Output(); err == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil {
				return n >> 20
			}
		}
	}
	return 0
}

func memTotalMB(meminfo []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb >> 10
		}
	}
	return 0
}
