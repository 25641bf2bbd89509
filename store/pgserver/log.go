//go:build unix

package pgserver

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"
)

// openLog opens postgres.log for a new run of postgres, moving a large one
// aside first, and returns the offset where this run's output begins.
func (s *Server) openLog() (*os.File, int64, error) {
	if fi, err := os.Stat(s.logPath); err == nil && fi.Size() > maxLogSize {
		os.Rename(s.logPath, s.logPath+".1")
	}
	f, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("open postgres.log: %w", err)
	}
	offset, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open postgres.log: %w", err)
	}
	fmt.Fprintf(f, "--- ufo pgserver: postgres starting at %s\n", time.Now().Format(time.RFC3339))
	return f, offset, nil
}

// appendLog adds initdb's output to postgres.log; the log is a help for
// humans, so failing to write it is not an error.
func (s *Server) appendLog(out []byte) {
	f, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "--- ufo pgserver: initdb at %s\n", time.Now().Format(time.RFC3339))
	f.Write(out)
}

// logSince returns the end of what postgres.log received since offset.
func (s *Server) logSince(offset int64) string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, offset, 1<<20))
	if err != nil {
		return err.Error()
	}
	return lastLines(b)
}

// lastLines keeps the last 20 lines of out, the ones that say why.
func lastLines(out []byte) string {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
