package rover

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestRegistrationsSaveIsPrivateAndAtomic(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "home")
	path := filepath.Join(dir, RegistrationsFile)
	regs := Registrations{"rv1": {Server: "http://a", RoverID: "rv1", FleetID: "f1", Name: "one", Token: "tok1"}}
	if err := regs.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}

	// Writers replace the file while readers read it: a reader must only
	// ever see a whole file, never a truncated one.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				regs := Registrations{}
				for j := range 20 + i%7 {
					id := fmt.Sprintf("rv-%d-%d", w, j)
					regs[id] = Registration{Server: "http://a", RoverID: id, Token: strings.Repeat("t", 200)}
				}
				if err := regs.Save(path); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				regs, err := LoadRegistrations(path)
				if err != nil || len(regs) < 1 {
					t.Errorf("a reader saw a partial file: %d registrations, %v", len(regs), err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("the home holds %d entries, want only %s (no temporary file left)", len(entries), RegistrationsFile)
	}
	fi, _ = os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after rewrites = %v, want 0600", fi.Mode().Perm())
	}
}

func TestLoadRegistrationsMissingFile(t *testing.T) {
	t.Parallel()
	regs, err := LoadRegistrations(filepath.Join(t.TempDir(), "nope.json"))
	if err != nil || len(regs) != 0 {
		t.Errorf("missing file: %v, %v; want none and no error", regs, err)
	}
}

func TestRegistrationsFind(t *testing.T) {
	t.Parallel()
	regs := Registrations{}
	for _, id := range []string{"a1b2c3", "a1b2ff", "d4e5f6", "d4"} {
		regs[id] = Registration{RoverID: id}
	}
	for _, tc := range []struct {
		prefix, want, err string
	}{
		{prefix: "a1b2c3", want: "a1b2c3"},
		{prefix: "a1b2c", want: "a1b2c3"},
		{prefix: "d4e", want: "d4e5f6"},
		{prefix: "d4", want: "d4"}, // an exact id wins over the prefix of another
		{prefix: "a1b2", err: `"a1b2" is ambiguous: it matches rovers a1b2c3, a1b2ff`},
		{prefix: "zz", err: `no registered rover matches "zz"`},
		{prefix: "", err: "no rover id given"},
	} {
		got, err := regs.Find(tc.prefix)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("Find(%q) err = %v, want %q", tc.prefix, err, tc.err)
		case tc.err == "" && (err != nil || got.RoverID != tc.want):
			t.Errorf("Find(%q) = %q, %v; want %q", tc.prefix, got.RoverID, err, tc.want)
		}
	}
}
