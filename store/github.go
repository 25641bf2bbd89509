package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ufo-run/ufo/app"
)

// GitHubInstallation is an installation of the GitHub App; FleetID is nil
// until a fleet admin links it.
type GitHubInstallation struct {
	ID           int64     `json:"id"`
	FleetID      *string   `json:"fleet_id"`
	AccountLogin string    `json:"account_login"`
	AccountType  string    `json:"account_type"`
	Suspended    bool      `json:"suspended"`
	Repositories []string  `json:"repositories"`
	CreatedAt    time.Time `json:"created_at"`
}

// GitHubRepository is a repository an installation grants access to.
type GitHubRepository struct {
	ID             int64
	InstallationID int64
	FullName       string // owner/name
}

// UpsertGitHubInstallation records an installation as its webhook reports
// it, without touching the fleet it is linked to.
func (s *Store) UpsertGitHubInstallation(ctx context.Context, in GitHubInstallation) error {
	_, err := s.pool.Exec(ctx, q("UpsertGitHubInstallation"), in.ID, in.AccountLogin, in.AccountType, in.Suspended)
	return translate(err)
}

// LinkGitHubInstallation links an installation to a fleet. Linking it again
// to the same fleet is harmless; an installation linked to another fleet is
// a conflict.
func (s *Store) LinkGitHubInstallation(ctx context.Context, fleetID string, in GitHubInstallation, userID *string) error {
	return s.tx(ctx, func(tx querier) error {
		var id int64
		err := tx.QueryRow(ctx, q("LinkGitHubInstallation"), in.ID, fleetID, in.AccountLogin, in.AccountType, userID).Scan(&id)
		if err == pgx.ErrNoRows {
			return app.Errorf(app.EConflict, "GitHub installation %d is linked to another fleet", in.ID)
		}
		if err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, "github.installation_linked", nil, map[string]any{"installation_id": in.ID, "account": in.AccountLogin})
	})
}

// DeleteGitHubInstallation forgets an installation and its repositories
// (the App was uninstalled). Operations made from its issues stay.
func (s *Store) DeleteGitHubInstallation(ctx context.Context, id int64) error {
	_, err := s.pool.Exec(ctx, q("DeleteGitHubInstallation"), id)
	return translate(err)
}

// FindGitHubInstallation returns an installation by GitHub's id. It is the
// one lookup not scoped by fleet: a webhook names the installation, and the
// installation says which fleet (if any) the delivery belongs to.
func (s *Store) FindGitHubInstallation(ctx context.Context, id int64) (GitHubInstallation, error) {
	var in GitHubInstallation
	err := s.pool.QueryRow(ctx, q("FindGitHubInstallation"), id).
		Scan(&in.ID, &in.FleetID, &in.AccountLogin, &in.AccountType, &in.Suspended, &in.CreatedAt)
	return in, translate(err)
}

// GitHubInstallations lists the installations linked to a fleet, with the
// repositories each grants.
func (s *Store) GitHubInstallations(ctx context.Context, fleetID string) ([]GitHubInstallation, error) {
	rows, err := s.pool.Query(ctx, q("ListGitHubInstallations"), fleetID)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []GitHubInstallation{}
	for rows.Next() {
		var in GitHubInstallation
		if err := rows.Scan(&in.ID, &in.FleetID, &in.AccountLogin, &in.AccountType, &in.Suspended, &in.CreatedAt, &in.Repositories); err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, translate(rows.Err())
}

// AddGitHubRepositories records repositories of an installation and
// removes those listed in remove. With all set, add is the complete list
// and every other repository of the installation is removed too.
func (s *Store) AddGitHubRepositories(ctx context.Context, installationID int64, add []GitHubRepository, remove []int64, all bool) error {
	return s.tx(ctx, func(tx querier) error {
		ids := make([]int64, 0, len(add))
		for _, r := range add {
			if _, err := tx.Exec(ctx, q("UpsertGitHubRepository"), r.ID, installationID, r.FullName); err != nil {
				return err
			}
			ids = append(ids, r.ID)
		}
		if all {
			_, err := tx.Exec(ctx, q("DeleteOtherGitHubRepositories"), installationID, ids)
			return err
		}
		if remove == nil {
			remove = []int64{}
		}
		_, err := tx.Exec(ctx, q("DeleteGitHubRepositories"), installationID, remove)
		return err
	})
}

// MissionSeed is what a repository's mission is made from on first use.
type MissionSeed struct {
	Repository    GitHubRepository
	CloneURL      string
	DefaultBranch string
	BranchPrefix  string
	Reviewers     []string
}

// EnsureGitHubMission returns the mission a repository of the fleet maps
// to, creating it on first use with a key derived from the repository's
// name (a free one). The repository must belong to an installation linked
// to the fleet.
func (s *Store) EnsureGitHubMission(ctx context.Context, fleetID string, seed MissionSeed) (app.Mission, error) {
	var m app.Mission
	err := s.tx(ctx, func(tx querier) error {
		var missionID *string
		err := tx.QueryRow(ctx, q("LockGitHubRepository"), fleetID, seed.Repository.ID).Scan(&missionID)
		if err != nil {
			return notFoundAs(err, "repository %s is not part of an installation linked to this fleet", seed.Repository.FullName)
		}
		if missionID != nil {
			m, err = one[app.Mission](tx.Query(ctx, q("FindMission"), fleetID, *missionID))
			if err == nil || !app.IsCode(err, app.ENotFound) {
				return err
			}
		}
		keys, err := missionKeys(ctx, tx, fleetID)
		if err != nil {
			return err
		}
		name := seed.Repository.FullName
		key := missionKeyFor(name[strings.LastIndexByte(name, '/')+1:], keys)
		if key == "" {
			return app.Errorf(app.EConflict, "no free mission key for %s", name)
		}
		base := seed.DefaultBranch
		if base == "" {
			base = "main"
		}
		prefix := seed.BranchPrefix
		if prefix == "" {
			prefix = "ufo/"
		}
		reviewers := seed.Reviewers
		if reviewers == nil {
			reviewers = []string{}
		}
		m, err = one[app.Mission](tx.Query(ctx, q("CreateMission"), fleetID, name, key,
			"Issues of "+name+" on GitHub", seed.CloneURL, base, prefix, nil, reviewers, ""))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, q("SetGitHubRepositoryMission"), fleetID, seed.Repository.ID, m.ID); err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, "mission.created", &m.ID, m)
	})
	return m, err
}

// missionKeyFor derives a free mission key from a repository's name: the
// initials of its words ("hello-world" → HW), or the first letters of a
// single word ("kubernetes" → KUBE), then variants with a letter or two
// added when that key is taken. It returns "" when none is free.
func missionKeyFor(name string, taken map[string]bool) string {
	words := strings.FieldsFunc(strings.ToUpper(name), func(r rune) bool { return r < 'A' || r > 'Z' })
	var base string
	switch {
	case len(words) >= 2:
		for _, w := range words {
			base += w[:1]
		}
	case len(words) == 1:
		base = words[0]
	}
	base = base[:min(len(base), 4)]
	for len(base) < 2 {
		base += "X"
	}
	if !taken[base] {
		return base
	}
	for _, n := range []int{1, 2} {
		stem := base[:min(len(base), 6-n)]
		for i := range 26 * (1 + 25*(n-1)) { // 26 one-letter, 676 two-letter suffixes
			suffix := []byte{byte('A' + i%26)}
			if n == 2 {
				suffix = []byte{byte('A' + i/26), byte('A' + i%26)}
			}
			if k := stem + string(suffix); !taken[k] {
				return k
			}
		}
	}
	return ""
}

func missionKeys(ctx context.Context, tx querier, fleetID string) (map[string]bool, error) {
	rows, err := tx.Query(ctx, q("MissionKeys"), fleetID)
	if err != nil {
		return nil, err
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out, nil
}

// FindGitHubRepositoryByMission returns the GitHub repository a mission of
// the fleet maps to, through an installation that is not suspended.
func (s *Store) FindGitHubRepositoryByMission(ctx context.Context, fleetID, missionID string) (GitHubRepository, error) {
	var r GitHubRepository
	err := s.pool.QueryRow(ctx, q("FindGitHubRepositoryByMission"), fleetID, missionID).Scan(&r.ID, &r.InstallationID, &r.FullName)
	return r, translate(err)
}

// GitHubIssue links an issue to the operation made from it, and remembers
// what UFO keeps in step on GitHub: the status comment, the pull request,
// and whom to ask for review.
type GitHubIssue struct {
	ID              int64
	FleetID         string
	InstallationID  int64
	RepositoryID    int64
	Repository      string // owner/name
	Number          int
	URL             string
	OperationID     *string
	TriggeredBy     string
	RoverTags       []string
	StatusCommentID int64
	StatusBody      string
	PRNumber        int
	PRURL           string
	PRState         string // open, closed (unmerged) or merged: as GitHub last told
	ReviewedRunID   *string
}

// UpsertGitHubIssue records the issue (or refreshes who triggered it and
// the rover tags its repository requires) and returns the row's id. Tags
// are committed here, before any run of the issue is inserted, so the
// trigger that adds them to runs always sees them.
func (s *Store) UpsertGitHubIssue(ctx context.Context, in GitHubIssue) (int64, error) {
	tags := in.RoverTags
	if tags == nil {
		tags = []string{}
	}
	var id int64
	err := s.pool.QueryRow(ctx, q("UpsertGitHubIssue"), in.FleetID, in.InstallationID, in.RepositoryID, in.Repository,
		in.Number, in.URL, in.TriggeredBy, tags).Scan(&id)
	return id, translate(err)
}

// GitHubIssueLease is how long WithGitHubIssue holds an issue before the
// claim lapses unless renewed; it is renewed while fn runs, so only a
// holder that died (or lost the database) lets go this late.
const GitHubIssueLease = 2 * time.Minute

// WithGitHubIssue claims one issue row of the fleet for the length of fn
// and saves what fn changed in it when fn succeeds. It serializes the work
// on one issue (making its operation, creating or editing its status
// comment, opening its pull request) across workers and replicas with a
// lease on the row, not a row lock: fn runs outside any transaction, so
// the calls to GitHub it makes hold no connection, and deleting the
// issue's operation never waits on them. A claim held elsewhere is waited
// for (up to GitHubIssueLease, then an error); one whose holder died
// lapses. fn may call other store methods but must not call
// WithGitHubIssue again. If the row is gone when fn ends (its operation was
// deleted meanwhile), there is nothing to save and no error; if the claim
// lapsed and another holder took the row, the changes are not saved and an
// error says so: fn's work on GitHub must be safe to do again.
func (s *Store) WithGitHubIssue(ctx context.Context, fleetID string, id int64, fn func(gi *GitHubIssue) error) error {
	gi, lease, err := s.claimGitHubIssue(ctx, fleetID, id)
	if err != nil {
		return err
	}
	// Renew the claim while fn runs.
	renewCtx, stopRenew := context.WithCancel(context.WithoutCancel(ctx))
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(GitHubIssueLease / 4)
		defer t.Stop()
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-t.C:
				if _, err := s.pool.Exec(renewCtx, q("ExtendGitHubIssueLease"), fleetID, id, lease, GitHubIssueLease.Seconds()); err != nil && renewCtx.Err() == nil {
					s.log.Warn("store: renew the lease on a github issue", "issue", id, "err", err)
				}
			}
		}
	}()
	ferr := fn(&gi)
	stopRenew()
	<-renewed
	// Let go even when ctx is done: otherwise the row stays claimed until
	// the lease lapses.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if ferr != nil {
		if _, err := s.pool.Exec(bg, q("ReleaseGitHubIssue"), fleetID, id, lease); err != nil {
			s.log.Warn("store: release a github issue", "issue", id, "err", err)
		}
		return ferr
	}
	tag, err := s.pool.Exec(bg, q("SaveGitHubIssue"), fleetID, id, gi.OperationID, gi.TriggeredBy, gi.StatusCommentID,
		gi.StatusBody, gi.PRNumber, gi.PRURL, gi.PRState, gi.ReviewedRunID, lease)
	if err != nil {
		return fmt.Errorf("save github issue %d: %w", id, translate(err))
	}
	if tag.RowsAffected() == 0 {
		var exists bool
		if err := s.pool.QueryRow(bg, q("GitHubIssueExists"), fleetID, id).Scan(&exists); err != nil {
			return fmt.Errorf("save github issue %d: %w", id, translate(err))
		}
		if exists {
			return fmt.Errorf("save github issue %d: its lease lapsed and another worker took it", id)
		}
	}
	return nil
}

// claimGitHubIssue takes the lease on an issue row, waiting while another
// holder has it.
func (s *Store) claimGitHubIssue(ctx context.Context, fleetID string, id int64) (GitHubIssue, string, error) {
	deadline := time.Now().Add(GitHubIssueLease)
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		var gi GitHubIssue
		var lease string
		err := s.pool.QueryRow(ctx, q("ClaimGitHubIssue"), fleetID, id, GitHubIssueLease.Seconds()).Scan(&gi.ID, &gi.FleetID,
			&gi.InstallationID, &gi.RepositoryID, &gi.Repository, &gi.Number, &gi.URL, &gi.OperationID, &gi.TriggeredBy,
			&gi.RoverTags, &gi.StatusCommentID, &gi.StatusBody, &gi.PRNumber, &gi.PRURL, &gi.PRState, &gi.ReviewedRunID, &lease)
		if err == nil {
			return gi, lease, nil
		}
		if err != pgx.ErrNoRows {
			return GitHubIssue{}, "", translate(err)
		}
		var exists bool
		if err := s.pool.QueryRow(ctx, q("GitHubIssueExists"), fleetID, id).Scan(&exists); err != nil {
			return GitHubIssue{}, "", translate(err)
		}
		if !exists {
			return GitHubIssue{}, "", app.Errorf(app.ENotFound, "github issue %d not found", id)
		}
		if time.Now().After(deadline) {
			return GitHubIssue{}, "", fmt.Errorf("github issue %d is busy: another worker has held it for %v", id, GitHubIssueLease)
		}
		select {
		case <-ctx.Done():
			return GitHubIssue{}, "", ctx.Err()
		case <-time.After(delay):
		}
	}
}

// FindGitHubIssue returns the issue of a repository of the fleet with the
// given number, or whose pull request has it.
func (s *Store) FindGitHubIssue(ctx context.Context, fleetID string, repositoryID int64, number int) (GitHubIssue, error) {
	gi, err := scanGitHubIssue(s.pool.QueryRow(ctx, q("FindGitHubIssueByNumber"), fleetID, repositoryID, number))
	return gi, translate(err)
}

// FindGitHubIssueByOperation returns the issue an operation of the fleet
// was made from.
func (s *Store) FindGitHubIssueByOperation(ctx context.Context, fleetID, operationID string) (GitHubIssue, error) {
	gi, err := scanGitHubIssue(s.pool.QueryRow(ctx, q("FindGitHubIssueByOperation"), fleetID, operationID))
	return gi, translate(err)
}

func scanGitHubIssue(row pgx.Row) (GitHubIssue, error) {
	var gi GitHubIssue
	err := row.Scan(&gi.ID, &gi.FleetID, &gi.InstallationID, &gi.RepositoryID, &gi.Repository, &gi.Number, &gi.URL,
		&gi.OperationID, &gi.TriggeredBy, &gi.RoverTags, &gi.StatusCommentID, &gi.StatusBody, &gi.PRNumber, &gi.PRURL,
		&gi.PRState, &gi.ReviewedRunID)
	return gi, err
}

// FindOperationIDByIssueURL returns the id of the fleet's operation made
// from an issue, for a delivery processed again after a crash between
// making the operation and recording it.
func (s *Store) FindOperationIDByIssueURL(ctx context.Context, fleetID, url string) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, q("FindOperationIDByIssueURL"), fleetID, url).Scan(&id)
	return id, translate(err)
}

// SetArtifactPRURL records the pull request opened from a run's branch.
func (s *Store) SetArtifactPRURL(ctx context.Context, fleetID, runID, url string) error {
	_, err := s.pool.Exec(ctx, q("SetArtifactPRURL"), fleetID, runID, url)
	return translate(err)
}
