package store

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ufo-run/ufo/app"
)

// EnrollmentTTL is how long an enrollment code works.
const EnrollmentTTL = 15 * time.Minute

// CreateEnrollmentCode makes a single-use code; only its hash is stored.
func (s *Store) CreateEnrollmentCode(ctx context.Context, fleetID, name string, tags []string, ephemeral bool, by *string) (string, time.Time, error) {
	code := app.NewToken("ufoe_")
	expires := time.Now().Add(EnrollmentTTL).UTC().Truncate(time.Second)
	if tags == nil {
		tags = []string{}
	}
	err := s.tx(ctx, func(tx querier) error {
		var id string
		if err := tx.QueryRow(ctx, q("CreateEnrollmentCode"), fleetID, app.HashToken(code), name, tags, ephemeral, by, expires).Scan(&id); err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, "enrollment_code.created", &id, map[string]any{"name": name, "expires_at": expires})
	})
	return code, expires, err
}

// Enrolled is a new rover and its connection token (shown once).
type Enrolled struct {
	RoverID, FleetID, Name, Token string
	Tags                          []string
}

// Enroll trades a code for a rover and a token, once. The rover's tags are
// the code's and those it reports (tags).
func (s *Store) Enroll(ctx context.Context, code, name string, profile json.RawMessage, kinds, tags []string) (Enrolled, error) {
	var e Enrolled
	if tags == nil {
		tags = []string{}
	}
	err := s.tx(ctx, func(tx querier) error {
		var codeID, codeName string
		var codeTags []string
		var ephemeral bool
		err := tx.QueryRow(ctx, q("UseEnrollmentCode"), app.HashToken(code)).Scan(&codeID, &e.FleetID, &codeName, &codeTags, &ephemeral)
		if err == pgx.ErrNoRows {
			return app.Errorf(app.EUnauthorized, "enrollment code is unknown, used or expired")
		}
		if err != nil {
			return err
		}
		e.Name = name
		if codeName != "" {
			e.Name = codeName
		}
		if e.Name == "" {
			e.Name = "rover"
		}
		e.Token = app.NewToken("ufor_")
		if err := tx.QueryRow(ctx, q("InsertRover"), e.FleetID, e.Name, codeTags, app.HashToken(e.Token), profile, kinds, ephemeral, tags).Scan(&e.RoverID, &e.Tags); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, q("LinkEnrollmentCode"), codeID, e.RoverID); err != nil {
			return err
		}
		if err := offerPilots(ctx, tx, e.FleetID, kinds); err != nil {
			return err
		}
		return emit(ctx, tx, e.FleetID, "rover.enrolled", &e.RoverID, map[string]any{"name": e.Name})
	})
	return e, err
}

// RoverIdentity is the rover a token belongs to.
type RoverIdentity struct {
	ID, FleetID, Name string
	Tags, Kinds       []string
}

// touchEvery is how often a busy rover's last_seen_at is written: far
// below the time after which the sweeper calls a silent rover offline.
const touchEvery = 5 * time.Second

// AuthenticateRover resolves a rover token, records that the rover was seen
// and announces it when it comes back online.
//
// A token this store resolved less than roverFresh ago is not looked up
// again: a busy rover makes several calls a second. Revocation still takes
// effect at once for what a rover does, because every statement that acts
// for a rover checks it is not revoked: ClaimRun, the UPDATE of the run
// in every call on a run, ConnectRover and RevokeRover. A revoked rover is
// answered 401 and dropped from the cache.
func (s *Store) AuthenticateRover(ctx context.Context, token string) (RoverIdentity, error) {
	hash := app.HashToken(token)
	if r, ok := s.rovers.get(hash); ok {
		return r, nil
	}
	asked := time.Now()
	var r RoverIdentity
	var was bool
	err := s.pool.QueryRow(ctx, q("TouchRover"), hash, touchEvery.Seconds()).Scan(&r.ID, &r.FleetID, &r.Name, &r.Tags, &r.Kinds, &was)
	if err == pgx.ErrNoRows {
		s.rovers.forget(hash)
		return r, errRevoked()
	}
	if err != nil {
		return r, translate(err)
	}
	if !was {
		err = s.tx(ctx, func(tx querier) error {
			return emit(ctx, tx, r.FleetID, "rover.online", &r.ID, map[string]any{"name": r.Name})
		})
		if err != nil {
			return r, err
		}
	}
	s.rovers.put(hash, r, asked)
	return r, nil
}

// errRevoked is the answer to a token that is unknown, or a rover's that
// was revoked.
func errRevoked() error { return app.Errorf(app.EUnauthorized, "unknown or revoked rover token") }

// roverFresh is how long a resolved rover token is taken on trust. Far
// below touchEvery, so last_seen_at stays as current as before.
const roverFresh = time.Second

// roverCache remembers recently resolved rover tokens by their hash.
type roverCache struct {
	mu sync.Mutex
	m  map[string]cachedRover
	// dropped is when each rover was last dropped (revoked, reconnected):
	// a lookup that started before then may have read what changed, and
	// is not cached.
	dropped map[string]time.Time
}

type cachedRover struct {
	r  RoverIdentity
	at time.Time
}

// roverCacheMax bounds the cache; past it, stale entries are dropped.
const roverCacheMax = 4096

// droppedFor is how long a drop is remembered: longer than any lookup
// takes.
const droppedFor = time.Minute

func (c *roverCache) get(hash []byte) (RoverIdentity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[string(hash)]
	if !ok || time.Since(e.at) >= roverFresh {
		return RoverIdentity{}, false
	}
	return e.r, true
}

// put caches r, resolved by a lookup that started at asked.
func (c *roverCache) put(hash []byte, r RoverIdentity, asked time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.dropped[r.ID]; ok && !asked.After(d) {
		return
	}
	if c.m == nil {
		c.m = map[string]cachedRover{}
	}
	if len(c.m) >= roverCacheMax {
		for k, e := range c.m {
			if time.Since(e.at) >= roverFresh {
				delete(c.m, k)
			}
		}
	}
	c.m[string(hash)] = cachedRover{r, asked}
}

func (c *roverCache) forget(hash []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, string(hash))
}

// forgetRover drops a rover's cached token, whatever it is, after a change
// to what AuthenticateRover answers for it (revoked, or its kinds or tags
// changed on connect).
func (c *roverCache) forgetRover(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if e.r.ID == id {
			delete(c.m, k)
		}
	}
	if c.dropped == nil {
		c.dropped = map[string]time.Time{}
	}
	now := time.Now()
	for k, d := range c.dropped {
		if now.Sub(d) > droppedFor {
			delete(c.dropped, k)
		}
	}
	c.dropped[id] = now
}

// ConnectRover stores the device profile a rover reports on (re)connect,
// the pilot kinds it offers and the tags it reports, and returns the
// rover's tags: its enrollment code's and those.
func (s *Store) ConnectRover(ctx context.Context, roverID string, profile json.RawMessage, kinds, tags []string) ([]string, error) {
	if tags == nil {
		tags = []string{}
	}
	var all []string
	err := s.tx(ctx, func(tx querier) error {
		var fleetID string
		if err := tx.QueryRow(ctx, q("ConnectRover"), roverID, profile, kinds, tags).Scan(&fleetID, &all); err != nil {
			if err == pgx.ErrNoRows {
				return errRevoked() // revoked since its token was looked up
			}
			return err
		}
		if err := offerPilots(ctx, tx, fleetID, kinds); err != nil {
			return err
		}
		return emit(ctx, tx, fleetID, "rover.connected", &roverID, map[string]any{"kinds": kinds, "tags": all})
	})
	s.rovers.forgetRover(roverID)
	return all, err
}

// RevokeRover ends a rover's registration; its token stops working.
func (s *Store) RevokeRover(ctx context.Context, fleetID, roverID string) error {
	err := s.deleteByID(ctx, "RevokeRover", "rover.revoked", fleetID, roverID)
	if err == nil {
		s.rovers.forgetRover(roverID)
	}
	return err
}

// Rovers lists a fleet's rovers with their status and current run.
func (s *Store) Rovers(ctx context.Context, fleetID string) ([]app.Rover, error) {
	return collect[app.Rover](s.pool.Query(ctx, q("ListRovers"), fleetID, nil))
}

// FindRover returns one rover.
func (s *Store) FindRover(ctx context.Context, fleetID, id string) (app.Rover, error) {
	return one[app.Rover](s.pool.Query(ctx, q("ListRovers"), fleetID, id))
}

// MarkRoversOffline flips rovers not seen for `after` to offline and
// announces each change.
func (s *Store) MarkRoversOffline(ctx context.Context, after time.Duration) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx querier) error {
		rows, err := tx.Query(ctx, q("MarkRoversOffline"), after.Seconds())
		if err != nil {
			return err
		}
		type gone struct{ id, fleet string }
		var list []gone
		for rows.Next() {
			var g gone
			if err := rows.Scan(&g.id, &g.fleet); err != nil {
				return err
			}
			list = append(list, g)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, g := range list {
			if err := emit(ctx, tx, g.fleet, "rover.offline", &g.id, nil); err != nil {
				return err
			}
		}
		n = len(list)
		return nil
	})
	return n, err
}

// offerPilots gives the fleet a pilot named after each agent CLI a rover
// reports (claude, codex) when it has none of that kind yet, so they can be
// assigned as soon as a rover can run them.
func offerPilots(ctx context.Context, tx querier, fleetID string, kinds []string) error {
	for _, k := range kinds {
		if k != app.KindClaude && k != app.KindCodex {
			continue
		}
		var id string
		err := tx.QueryRow(ctx, q("EnsurePilotOfKind"), fleetID, k).Scan(&id)
		if err == pgx.ErrNoRows {
			continue
		}
		if err != nil {
			return err
		}
		if err := emit(ctx, tx, fleetID, "pilot.created", &id, map[string]any{"name": k, "kind": k}); err != nil {
			return err
		}
	}
	return nil
}
