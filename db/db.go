// Package db holds UFO's SQL: versioned migrations and named queries, both
// embedded in the binary.
//
// A lookup by primary key that also checks a row's state writes the check
// as (check) IS TRUE where the check is the predicate of a partial index
// (runs_active, runs_queue, jobs_pending, signals_fleet,
// operations_issue_url): WHERE id = $1 AND (status = 'pending') IS TRUE.
// The planner cannot match that form to the index's predicate, so the row
// is found by its key. Stated plainly, the check lets the planner choose
// the partial index, which statistics taken while few rows were in that
// state make look smaller than one lookup by key, and the lookup then
// reads every row in that state (migrations 0020 and 0021). The scans that
// want those rows state the predicate plainly. store/plans_test.go reads
// the plans.
package db

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql queries/*.sql
var files embed.FS

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the migrations in version order. File names are
// NNNN_name.sql.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(files, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		b, err := files.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migration version %d is used twice", out[i].Version)
		}
	}
	return out, nil
}

// Queries returns every named query in queries/*.sql. A query starts with a
// line "-- name: Name" and runs to the next such line.
func Queries() (map[string]string, error) {
	entries, err := fs.ReadDir(files, "queries")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range entries {
		b, err := files.ReadFile(path.Join("queries", e.Name()))
		if err != nil {
			return nil, err
		}
		var name string
		var body strings.Builder
		flush := func() error {
			if name == "" {
				return nil
			}
			if _, dup := out[name]; dup {
				return fmt.Errorf("query %s is defined twice", name)
			}
			out[name] = strings.TrimSuffix(strings.TrimSpace(body.String()), ";")
			body.Reset()
			return nil
		}
		for _, line := range strings.Split(string(b), "\n") {
			if n, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
				if err := flush(); err != nil {
					return nil, err
				}
				name = strings.TrimSpace(n)
				continue
			}
			if name != "" {
				body.WriteString(line)
				body.WriteByte('\n')
			}
		}
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
