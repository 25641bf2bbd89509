//go:build unix

package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ufo-run/ufo/rover/wire"
)

// zombieText marks what the zombie tries to write; none of it may land.
const zombieText = "written by a rover that lost its lease"

// zombieReport is what the zombie rover saw.
type zombieReport struct {
	token    string
	plays    int
	idle     int      // plays that found no run to claim
	refused  int      // stale calls answered 409
	accepted []string // stale calls the server took: each one a violation
}

// playZombie claims a run as a rover that then goes silent, waits until
// the run moved on (requeued and claimed again, or failed), then speaks
// with its old claim token: every call must be refused with 409.
func (w *world) playZombie(ctx context.Context) {
	token, err := w.zombieToken(ctx)
	if err != nil {
		w.t.Errorf("zombie: enroll: %v", err)
		return
	}
	w.mu.Lock()
	w.zombie.plays++
	w.mu.Unlock()
	var cl wire.Claim
	for deadline := time.Now().Add(15 * time.Second); cl.RunID == ""; {
		if time.Now().After(deadline) {
			w.note("zombie found nothing to claim")
			w.mu.Lock()
			w.zombie.idle++
			w.mu.Unlock()
			return
		}
		status, raw, err := roverCall(ctx, w.lb.URL, token, fmt.Sprintf("/api/rover/claim?wait=%d", longPollSeconds), wire.ClaimRequest{})
		if err == nil && status == http.StatusOK {
			if err := json.Unmarshal(raw, &cl); err != nil {
				w.t.Errorf("zombie: claim answer: %v", err)
				return
			}
		}
	}
	w.note("zombie claimed %s (attempt %d) and went silent", cl.RunID, cl.Attempt)
	if !w.waitMovedOn(ctx, cl) {
		return
	}
	base := "/api/rover/runs/" + cl.RunID + "/"
	calls := []struct {
		action string
		body   any
	}{
		{"events", wire.EventBatch{ClaimToken: cl.ClaimToken, Events: []wire.Event{{Seq: 1, Type: wire.EventText,
			Data: json.RawMessage(fmt.Sprintf(`{"text":%q}`, zombieText)), At: time.Now()}}}},
		{"heartbeat", wire.RunCall{ClaimToken: cl.ClaimToken}},
		{"start", wire.RunCall{ClaimToken: cl.ClaimToken}},
		{"complete", wire.Completion{ClaimToken: cl.ClaimToken, Status: wire.RunSucceeded, FinalMessage: zombieText}},
	}
	for _, c := range calls {
		status := w.stubborn(ctx, token, base+c.action, c.body)
		w.mu.Lock()
		if status == http.StatusConflict {
			w.zombie.refused++
		} else {
			w.zombie.accepted = append(w.zombie.accepted, fmt.Sprintf("%s of run %s with a stale token answered %d", c.action, cl.RunID, status))
		}
		w.mu.Unlock()
	}
	w.note("zombie spoke with its stale token on run %s", cl.RunID)
}

// zombieToken enrolls the zombie rover once.
func (w *world) zombieToken(ctx context.Context) (string, error) {
	w.mu.Lock()
	token := w.zombie.token
	w.mu.Unlock()
	if token != "" {
		return token, nil
	}
	var code struct {
		Code string `json:"code"`
	}
	if err := w.api.retry(ctx, "POST", w.api.fleetPath("/api/rovers/enrollment-codes"), map[string]any{}, &code); err != nil {
		return "", err
	}
	var out wire.EnrollResponse
	if err := w.api.retry(ctx, "POST", "/api/rovers/enroll", wire.EnrollRequest{Code: code.Code, Name: "zombie",
		Profile: wire.Profile{OS: "linux", Pilots: []wire.CLI{{Kind: "exec"}}}}, &out); err != nil {
		return "", err
	}
	w.mu.Lock()
	w.zombie.token = out.Token
	w.mu.Unlock()
	return out.Token, nil
}

// waitMovedOn waits until the zombie's run was claimed again by someone
// else or ended; the lease and the sweeper take a few seconds.
func (w *world) waitMovedOn(ctx context.Context, cl wire.Claim) bool {
	deadline := time.Now().Add(time.Minute)
	for {
		var status string
		var attempt int
		err := func() error {
			conn, err := pgx.Connect(ctx, w.dbURL)
			if err != nil {
				return err
			}
			defer conn.Close(context.Background())
			return conn.QueryRow(ctx, "SELECT status, attempt FROM runs WHERE id = $1", cl.RunID).Scan(&status, &attempt)
		}()
		if err == nil && (attempt > cl.Attempt || status == "failed" || status == "succeeded" || status == "canceled") {
			w.note("zombie's run %s is now %s at attempt %d", cl.RunID, status, attempt)
			return true
		}
		if time.Now().After(deadline) {
			w.t.Errorf("zombie's run %s did not move on within a minute of its claim (last: %s, attempt %d, %v)", cl.RunID, status, attempt, err)
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stubborn makes a rover call through the chaos: it retries while no
// server answers or one answers 5xx, and returns the final status.
func (w *world) stubborn(ctx context.Context, token, path string, body any) int {
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _, err := roverCall(ctx, w.lb.URL, token, path, body)
		if (err == nil && status < 500) || time.Now().After(deadline) {
			return status
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// roverCall posts a rover protocol call with a bearer token.
func roverCall(ctx context.Context, base, token, path string, body any) (int, []byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", base+path, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}
