package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Row outcomes.
const (
	StatusPass        = "pass"
	StatusMiss        = "miss"
	StatusInfo        = "info"         // a figure the issue sets no target for
	StatusNotMeasured = "not measured" // the part of UFO it needs is absent
	StatusError       = "error"        // the measurement itself failed
)

// Figure is one row of the table: a value beside its ceiling.
type Figure struct {
	Figure  string   `json:"figure"` // dispatch, throughput, …
	Name    string   `json:"name"`
	Unit    string   `json:"unit"`
	Value   float64  `json:"value"`
	Ceiling *float64 `json:"ceiling,omitempty"`
	// Ratio is Value/Ceiling.
	Ratio   *float64 `json:"ratio,omitempty"`
	Target  string   `json:"target,omitempty"`
	Status  string   `json:"status"`
	Note    string   `json:"note,omitempty"`
	Profile string   `json:"profile,omitempty"`
}

func anyMissed(rows []Figure) bool {
	return slices.ContainsFunc(rows, func(f Figure) bool { return f.Status == StatusMiss || f.Status == StatusError })
}

func ptr(v float64) *float64 { return &v }

// vsCeiling makes a row whose target is a bound on value/ceiling: at most
// maxRatio (latencies) or, with atLeast, at least minRatio (rates). A zero
// bound makes it an information row.
func vsCeiling(figure, name, unit string, value, ceiling float64, bound float64, atLeast bool, note string) Figure {
	f := Figure{Figure: figure, Name: name, Unit: unit, Value: value, Ceiling: ptr(ceiling), Status: StatusInfo, Note: note}
	if ceiling > 0 {
		f.Ratio = ptr(value / ceiling)
	}
	switch {
	case bound == 0:
	case atLeast:
		f.Target = fmt.Sprintf("≥ %g× ceiling", bound)
		f.Status = passIf(f.Ratio != nil && *f.Ratio >= bound)
	default:
		f.Target = fmt.Sprintf("≤ %g× ceiling", bound)
		f.Status = passIf(f.Ratio != nil && *f.Ratio <= bound)
	}
	return f
}

// absolute makes a row whose target is a bound on the value itself; the
// ceiling, when given, is shown for comparison.
func absolute(figure, name, unit string, value float64, ceiling *float64, below float64, note string) Figure {
	f := Figure{Figure: figure, Name: name, Unit: unit, Value: value, Ceiling: ceiling, Status: StatusInfo, Note: note}
	if ceiling != nil && *ceiling > 0 {
		f.Ratio = ptr(value / *ceiling)
	}
	if below > 0 {
		f.Target = fmt.Sprintf("< %g %s", below, unit)
		f.Status = passIf(value < below)
	}
	return f
}

func passIf(ok bool) string {
	if ok {
		return StatusPass
	}
	return StatusMiss
}

// Results is bench/results.json.
type Results struct {
	Started  time.Time `json:"started"`
	Duration string    `json:"duration"`
	Host     struct {
		OS       string `json:"os"`
		Arch     string `json:"arch"`
		CPUs     int    `json:"cpus"`
		Go       string `json:"go"`
		Postgres string `json:"postgres"`
		// Load is /proc/loadavg when the run started and ended: other work
		// on the machine shows here.
		LoadStart string `json:"load_start,omitempty"`
		LoadEnd   string `json:"load_end,omitempty"`
	} `json:"host"`
	Config  config   `json:"config"`
	Figures []Figure `json:"figures"`
}

func (b *bench) results(took time.Duration) Results {
	var r Results
	r.Started = time.Now().Add(-took).UTC().Truncate(time.Second)
	r.Duration = took.Round(time.Second).String()
	r.Host.OS, r.Host.Arch, r.Host.CPUs, r.Host.Go = runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()
	r.Host.Postgres = b.pgInfo
	r.Host.LoadStart, r.Host.LoadEnd = b.loadStart, loadAverage()
	r.Config = b.cfg
	r.Config.DatabaseURL = redactURL(r.Config.DatabaseURL)
	r.Figures = b.figures
	return r
}

// redactURL keeps a database URL's shape but not its password.
func redactURL(s string) string {
	if i := strings.Index(s, "@"); i > 0 {
		if j := strings.Index(s, "://"); j > 0 && j < i {
			return s[:j+3] + "…" + s[i:]
		}
	}
	return s
}

func (r Results) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func printTable(w io.Writer, r Results) {
	fmt.Fprintf(w, "\nUFO bench — %s/%s, %d CPUs, %s\nPostgreSQL %s\ntook %s", r.Host.OS, r.Host.Arch, r.Host.CPUs, r.Host.Go, r.Host.Postgres, r.Duration)
	if r.Host.LoadStart != "" {
		fmt.Fprintf(w, "; load average %s at the start, %s at the end", r.Host.LoadStart, r.Host.LoadEnd)
	}
	fmt.Fprint(w, "\n\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVALUE\tCEILING\tRATIO\tTARGET\tRESULT")
	for _, f := range r.Figures {
		ceiling, ratio := "—", "—"
		if f.Ceiling != nil {
			ceiling = num(*f.Ceiling, f.Unit)
		}
		if f.Ratio != nil {
			ratio = fmt.Sprintf("%.2f×", *f.Ratio)
		}
		value := num(f.Value, f.Unit)
		if f.Status == StatusNotMeasured || f.Status == StatusError {
			value = "—"
		}
		target := f.Target
		if target == "" {
			target = "—"
		}
		result := strings.ToUpper(f.Status)
		if f.Status == StatusInfo {
			result = "info"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, value, ceiling, ratio, target, result)
	}
	tw.Flush()
	var notes []string
	for _, f := range r.Figures {
		if f.Note != "" {
			notes = append(notes, fmt.Sprintf("  %s: %s", f.Name, f.Note))
		}
		if f.Profile != "" {
			notes = append(notes, fmt.Sprintf("  %s: CPU profile of the server during this figure: %s (go tool pprof -top %s)", f.Name, f.Profile, f.Profile))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\nnotes:\n%s\n", strings.Join(notes, "\n"))
	}
	var missed []string
	for _, f := range r.Figures {
		if f.Status == StatusMiss || f.Status == StatusError || f.Status == StatusNotMeasured {
			missed = append(missed, fmt.Sprintf("%s (%s)", f.Name, f.Status))
		}
	}
	if len(missed) > 0 {
		fmt.Fprintf(w, "\nTARGETS NOT MET: %s\n", strings.Join(missed, "; "))
	} else {
		fmt.Fprintln(w, "\nevery target met")
	}
}

// num prints a value with its unit, with as many digits as it deserves.
func num(v float64, unit string) string {
	switch {
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f %s", v, unit)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f %s", v, unit)
	default:
		return fmt.Sprintf("%.2f %s", v, unit)
	}
}

// profile is a CPU profile of this process (the server and, for some
// figures, its clients) during one figure.
type profile struct {
	f    *os.File
	dir  string
	name string
}

func startProfile(dir, name string) (*profile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+name+"-*.pprof")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &profile{f: f, dir: dir, name: name}, nil
}

// stop ends the profile and keeps it as <dir>/<figure>.cpu.pprof when
// keep is set; it returns that path, or "".
func (p *profile) stop(keep bool) string {
	pprof.StopCPUProfile()
	p.f.Close()
	if !keep {
		os.Remove(p.f.Name())
		return ""
	}
	path := filepath.Join(p.dir, p.name+".cpu.pprof")
	if err := os.Rename(p.f.Name(), path); err != nil {
		return p.f.Name()
	}
	return path
}

// percentile returns the p-th percentile (0–100) of ds by nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loadAverage is the machine's 1, 5 and 15 minute load averages, where
// /proc/loadavg exists.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
