//go:build unix

package pgserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrNoBinaries means no folder holds both initdb and postgres. Its message
// says which package to install.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found " +
	"in PATH, pg_config --bindir, /usr/lib/postgresql/*/bin or Homebrew's folders: " +
	"install them with `apt-get install postgresql` (Debian, Ubuntu) " +
	"or `brew install postgresql@16` (macOS)")

// FindBinaries returns the folder holding the PostgreSQL server binaries
// (initdb and postgres). It looks in PATH, in pg_config --bindir, in
// /usr/lib/postgresql/*/bin (newest version first), in Homebrew's
// postgresql@* kegs, then in /opt/homebrew/bin and /usr/local/bin.
func FindBinaries() (dir string, err error) {
	return findBinaries(searchDirs())
}

func findBinaries(search []string) (string, error) {
	dirs := binaryDirs(search)
	if len(dirs) == 0 {
		return "", ErrNoBinaries
	}
	return dirs[0], nil
}

// searchDirs lists the folders FindBinaries looks in, in order.
func searchDirs() []string {
	dirs := filepath.SplitList(os.Getenv("PATH"))
	if d := pgConfigBindir(); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, newestFirst("/usr/lib/postgresql/*/bin")...)
	dirs = append(dirs, newestFirst("/opt/homebrew/opt/postgresql@*/bin")...)
	dirs = append(dirs, newestFirst("/usr/local/opt/postgresql@*/bin")...)
	return append(dirs, "/opt/homebrew/bin", "/usr/local/bin")
}

// binaryDirs keeps the folders of search that hold both initdb and postgres,
// symbolic links resolved (so /usr/local/bin/initdb pointing into
// /usr/lib/postgresql/15/bin counts as the latter) and duplicates removed.
func binaryDirs(search []string) []string {
	var found []string
	for _, d := range search {
		if d == "" || !isExecutable(filepath.Join(d, "initdb")) || !isExecutable(filepath.Join(d, "postgres")) {
			continue
		}
		if real, err := filepath.EvalSymlinks(filepath.Join(d, "initdb")); err == nil &&
			isExecutable(filepath.Join(filepath.Dir(real), "postgres")) {
			d = filepath.Dir(real)
		}
		if abs, err := filepath.Abs(d); err == nil {
			d = abs
		}
		if !slices.Contains(found, d) {
			found = append(found, d)
		}
	}
	return found
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

func pgConfigBindir() string {
	path, err := exec.LookPath("pg_config")
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--bindir").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// newestFirst expands a pattern with one * standing for a version number
// (15, 9.6, …) and sorts the matches by that version, highest first.
func newestFirst(pattern string) []string {
	matches, _ := filepath.Glob(pattern)
	prefix, suffix, _ := strings.Cut(pattern, "*")
	version := func(m string) []int {
		return parseVersion(strings.TrimSuffix(strings.TrimPrefix(m, prefix), suffix))
	}
	slices.SortStableFunc(matches, func(a, b string) int {
		return slices.Compare(version(b), version(a))
	})
	return matches
}

// parseVersion reads the leading dotted numbers of s: "15.4 (Debian)" gives
// [15 4], "16beta1" gives [16].
func parseVersion(s string) []int {
	var v []int
	for part := range strings.SplitSeq(s, ".") {
		end := strings.IndexFunc(part, func(r rune) bool { return r < '0' || r > '9' })
		if end < 0 {
			end = len(part)
		}
		n, err := strconv.Atoi(part[:end])
		if err != nil {
			break
		}
		v = append(v, n)
		if end < len(part) {
			break
		}
	}
	return v
}

// majorVersion returns the major version of the postgres binary in dir,
// spelled as in a data folder's PG_VERSION file: "15", or "9.6" before 10.
func majorVersion(dir string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("run %s --version: %w", filepath.Join(dir, "postgres"), err)
	}
	// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
	_, rest, ok := strings.Cut(string(out), ")")
	v := parseVersion(strings.TrimSpace(rest))
	if !ok || len(v) == 0 {
		return "", fmt.Errorf("read the version of %s from %q", filepath.Join(dir, "postgres"), out)
	}
	if v[0] < 10 && len(v) > 1 {
		return fmt.Sprintf("%d.%d", v[0], v[1]), nil
	}
	return strconv.Itoa(v[0]), nil
}

// binariesFor picks, among the folders found, the first whose PostgreSQL
// can open a data folder created by version want; any folder when want is
// empty (no cluster yet).
func binariesFor(dirs []string, want string) (string, error) {
	if len(dirs) == 0 {
		return "", ErrNoBinaries
	}
	if want == "" {
		return dirs[0], nil
	}
	var seen []string
	for _, d := range dirs {
		v, err := majorVersion(d)
		if err != nil {
			return "", err
		}
		if v == want {
			return d, nil
		}
		seen = append(seen, fmt.Sprintf("%s in %s", v, d))
	}
	return "", fmt.Errorf("the cluster was created by PostgreSQL %s, but only PostgreSQL %s is installed: "+
		"install PostgreSQL %s (apt-get install postgresql-%s, brew install postgresql@%s), "+
		"or move the cluster away to start a new one",
		want, strings.Join(seen, ", "), want, want, want)
}
