package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// envOr returns the environment variable's value, or def when unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

func envBool(name string) bool {
	b, _ := strconv.ParseBool(os.Getenv(name))
	return b
}

// defaultHome is $UFO_HOME, else ~/.ufo.
func defaultHome() string {
	if h := os.Getenv("UFO_HOME"); h != "" {
		return h
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".ufo"
	}
	return filepath.Join(home, ".ufo")
}

// newLogger makes the process's logger: JSON with UFO_LOG_FORMAT=json,
// text otherwise.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

func validPositive(name string, n int) error {
	if n <= 0 {
		return fmt.Errorf("%s must be a positive number of seconds", name)
	}
	return nil
}
