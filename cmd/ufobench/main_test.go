package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ufo-run/ufo/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// A small run of every figure against the test cluster: each is measured
// (no "could not be measured"), and the results file names them all. The
// targets are not checked: they are this machine's, at full size.
func TestEveryFigureIsMeasured(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "results.json")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-quick", "-database-url", pgtest.NewDB(t),
		"-out", out, "-profiles", dir, "-rovers", "5", "-dispatch-runs", "40", "-throughput-runs", "40",
		"-runtime-runs", "10", "-queued", "2000", "-claims", "20", "-ingest-rovers", "4", "-ingest-batches", "2",
		"-sse-clients", "10", "-sse-changes", "10", "-webhook-count", "100", "-rover-runs", "2", "-ceiling-time", "1s",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Figures []Figure `json:"figures"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, f := range res.Figures {
		if f.Status == StatusError || f.Value < 0 {
			t.Errorf("%s: %s %v (%s)", f.Name, f.Status, f.Value, f.Note)
		}
		if !slices.Contains(seen, f.Figure) {
			seen = append(seen, f.Figure)
		}
	}
	for _, name := range figureNames {
		if !slices.Contains(seen, name) {
			t.Errorf("no row of figure %s in %s", name, out)
		}
	}
}
