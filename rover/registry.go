package rover

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// RegistrationsFile is the name of the registrations file in $UFO_HOME.
const RegistrationsFile = "rovers.json"

// Registration is one enrolled rover: the server it belongs to and the
// token it connects with.
type Registration struct {
	Server  string `json:"server"`
	RoverID string `json:"rover_id"`
	FleetID string `json:"fleet_id"`
	Name    string `json:"name"`
	Token   string `json:"token"`
	// CodeSHA256 is the hash of the enrollment code this registration came
	// from, so starting again with the same (single-use) code does not try
	// to enroll a second time.
	CodeSHA256 string `json:"code_sha256,omitempty"`
}

// Registrations are the registrations of a host, keyed by rover id.
type Registrations map[string]Registration

// LoadRegistrations reads the registrations file; a missing file holds
// none.
func LoadRegistrations(path string) (Registrations, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Registrations{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read registrations: %w", err)
	}
	regs := Registrations{}
	if err := json.Unmarshal(b, &regs); err != nil {
		return nil, fmt.Errorf("read registrations %s: %w", path, err)
	}
	return regs, nil
}

// updateRegistrations loads the registrations file at path, applies change
// and saves it, holding the file's lock (path + ".lock") throughout, so that
// enrollments and removals running at once, in this process or in others,
// do not lose one another's changes.
func updateRegistrations(path string, change func(Registrations)) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return fmt.Errorf("update registrations: %w", err)
	}
	defer unlock()
	regs, err := LoadRegistrations(path)
	if err != nil {
		return err
	}
	change(regs)
	return regs.Save(path)
}

// Save writes the registrations file atomically (a temporary file in the
// same directory, renamed over the old one) with mode 0600.
func (regs Registrations) Save(path string) error {
	b, err := json.MarshalIndent(regs, "", "  ")
	if err != nil {
		return fmt.Errorf("encode registrations: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("save registrations: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename, there is nothing left to remove
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("save registrations: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("save registrations: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save registrations: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save registrations: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("save registrations: %w", err)
	}
	return nil
}

// Sorted returns the registrations ordered by server, then name, then id.
func (regs Registrations) Sorted() []Registration {
	out := make([]Registration, 0, len(regs))
	for _, r := range regs {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Registration) int {
		return cmp.Or(strings.Compare(a.Server, b.Server), strings.Compare(a.Name, b.Name), strings.Compare(a.RoverID, b.RoverID))
	})
	return out
}

// Find returns the registration whose id is idOrPrefix, or the only one
// whose id starts with it.
func (regs Registrations) Find(idOrPrefix string) (Registration, error) {
	if idOrPrefix == "" {
		return Registration{}, errors.New("no rover id given")
	}
	if r, ok := regs[idOrPrefix]; ok {
		return r, nil
	}
	var ids []string
	for id := range regs {
		if strings.HasPrefix(id, idOrPrefix) {
			ids = append(ids, id)
		}
	}
	switch len(ids) {
	case 0:
		return Registration{}, fmt.Errorf("no registered rover matches %q", idOrPrefix)
	case 1:
		return regs[ids[0]], nil
	}
	slices.Sort(ids)
	return Registration{}, fmt.Errorf("%q is ambiguous: it matches rovers %s", idOrPrefix, strings.Join(ids, ", "))
}
