package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"time"

	"github.com/ufo-run/ufo/rover/wire"
)

// newTransport is one rover's or client's own connections, as a separate
// process would have.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	return t
}

// api is a signed-in person's client of the JSON API.
type api struct {
	base  string
	hc    *http.Client
	fleet string
}

// call sends in as JSON (when not nil), requires status want and decodes
// the answer into out (when not nil).
func call(ctx context.Context, hc *http.Client, method, u, bearer string, in, out any, want int) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, u, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, u, resp.StatusCode, want, bytes.TrimSpace(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, u, err)
		}
	}
	return nil
}

func (a *api) do(ctx context.Context, method, path string, in, out any, want int) error {
	return call(ctx, a.hc, method, a.base+path, "", in, out, want)
}

// fleetPath adds ?fleet=… (or &fleet=…) to path.
func (a *api) fleetPath(path string) string {
	sep := "?"
	if bytes.ContainsRune([]byte(path), '?') {
		sep = "&"
	}
	return path + sep + "fleet=" + url.QueryEscape(a.fleet)
}

type idOnly struct {
	ID string `json:"id"`
}

// testbed is a fleet with a person signed in, a mission and an exec pilot.
type testbed struct {
	*api
	mission string
	pilot   string
}

// newFleet makes a fleet for one figure, with a mission and an exec pilot.
// Every fleet has the same owner, signed up once: the API takes only a few
// sign-ups a minute from one address.
func (b *bench) newFleet(ctx context.Context, what string) (*testbed, error) {
	if b.owner == nil {
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Transport: newTransport(), Timeout: time.Minute}
		if err := call(ctx, hc, "POST", b.base+"/api/auth/signup", "", map[string]string{
			"email": "owner@bench.example", "password": "bench-password", "name": "ufobench",
		}, nil, http.StatusCreated); err != nil {
			return nil, fmt.Errorf("sign up: %w", err)
		}
		b.owner = jar
	}
	a := &api{base: b.base, hc: &http.Client{Jar: b.owner, Transport: newTransport(), Timeout: time.Minute}}
	var f idOnly
	if err := a.do(ctx, "POST", "/api/fleets", map[string]string{"name": fmt.Sprintf("%s %d", what, b.uniq())}, &f, http.StatusCreated); err != nil {
		return nil, fmt.Errorf("create fleet: %w", err)
	}
	a.fleet = f.ID
	tb := &testbed{api: a}
	var err error
	if tb.mission, err = tb.newMission(ctx, b.uniq(), ""); err != nil {
		return nil, err
	}
	var p idOnly
	if err := a.do(ctx, "POST", a.fleetPath("/api/pilots"), map[string]any{
		"name": "bench", "kind": "exec", "settings": map[string]string{"command": "true"},
	}, &p, http.StatusCreated); err != nil {
		return nil, fmt.Errorf("create pilot: %w", err)
	}
	tb.pilot = p.ID
	return tb, nil
}

func (tb *testbed) newMission(ctx context.Context, n int, repository string) (string, error) {
	var m idOnly
	in := map[string]string{"name": fmt.Sprintf("Bench %d", n), "key": missionKey(n)}
	if repository != "" {
		in["repository"] = repository
		in["base_branch"] = "main"
	}
	if err := tb.do(ctx, "POST", tb.fleetPath("/api/missions"), in, &m, http.StatusCreated); err != nil {
		return "", fmt.Errorf("create mission: %w", err)
	}
	return m.ID, nil
}

// assign creates an operation assigned to the pilot, which queues a run,
// and returns its id and when the answer arrived.
func (tb *testbed) assign(ctx context.Context, mission, title string) (string, time.Time, error) {
	var op idOnly
	err := tb.do(ctx, "POST", tb.fleetPath("/api/operations"), map[string]string{
		"title": title, "body": "bench", "mission_id": mission, "assignee_type": "pilot", "assignee_id": tb.pilot,
	}, &op, http.StatusCreated)
	return op.ID, time.Now(), err
}

// enrolled is a rover's identity after enrollment.
type enrolled struct {
	ID    string
	Token string
}

// enroll makes n rovers of the fleet, each from an enrollment code, with
// the store: enrolling is not what is measured, and the API allows only a
// few enrollments a minute from one address.
func (b *bench) enroll(ctx context.Context, tb *testbed, n int) ([]enrolled, error) {
	out := make([]enrolled, 0, n)
	for i := range n {
		code, _, err := b.st.CreateEnrollmentCode(ctx, tb.fleet, "", []string{}, false, nil)
		if err != nil {
			return nil, fmt.Errorf("create enrollment code: %w", err)
		}
		e, err := b.st.Enroll(ctx, code, fmt.Sprintf("bench-%d", i), json.RawMessage(`{"os":"linux","pilots":[{"kind":"exec"}]}`), []string{"exec"}, nil)
		if err != nil {
			return nil, fmt.Errorf("enroll: %w", err)
		}
		out = append(out, enrolled{ID: e.RoverID, Token: e.Token})
	}
	return out, nil
}

// waitOnline waits until n rovers of the fleet are connected.
func (tb *testbed) waitOnline(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var rovers []struct {
			Status string `json:"status"`
		}
		if err := tb.do(ctx, "GET", tb.fleetPath("/api/rovers"), nil, &rovers, http.StatusOK); err != nil {
			return err
		}
		online := 0
		for _, r := range rovers {
			if r.Status != "offline" {
				online++
			}
		}
		if online >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d rovers online after %v", online, n, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// protoRover speaks the rover protocol directly, for the figures that time
// one call (a claim, a batch of events) rather than a whole run.
type protoRover struct {
	base  string
	token string
	hc    *http.Client
}

func newProtoRover(base, token string) *protoRover {
	return &protoRover{base: base, token: token, hc: &http.Client{Transport: newTransport()}}
}

func (r *protoRover) connect(ctx context.Context) error {
	return call(ctx, r.hc, "POST", r.base+"/api/rover/connect", r.token,
		wire.ConnectRequest{Profile: wire.Profile{OS: "linux", Pilots: []wire.CLI{{Kind: "exec"}}}}, nil, http.StatusOK)
}

// claim long-polls up to wait; nil when nothing came. at is when the
// answer had fully arrived.
func (r *protoRover) claim(ctx context.Context, wait time.Duration) (cl *wire.Claim, at time.Time, err error) {
	req, err := http.NewRequestWithContext(ctx, "POST", fmt.Sprintf("%s/api/rover/claim?wait=%d", r.base, int(wait.Seconds())), bytes.NewReader([]byte("{}")))
	if err != nil {
		return nil, at, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, at, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	at = time.Now()
	switch {
	case err != nil:
		return nil, at, err
	case resp.StatusCode == http.StatusNoContent:
		return nil, at, nil
	case resp.StatusCode != http.StatusOK:
		return nil, at, fmt.Errorf("claim: status %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	var c wire.Claim
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, at, fmt.Errorf("claim: %w", err)
	}
	return &c, at, nil
}

func (r *protoRover) runCall(ctx context.Context, runID, action string, in any) (wire.RunAck, error) {
	var ack wire.RunAck
	err := call(ctx, r.hc, "POST", r.base+"/api/rover/runs/"+runID+"/"+action, r.token, in, &ack, http.StatusOK)
	return ack, err
}

// claimOne claims and starts one run, waiting up to 10 s for it.
func (r *protoRover) claimOne(ctx context.Context) (*wire.Claim, error) {
	cl, _, err := r.claim(ctx, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if cl == nil {
		return nil, fmt.Errorf("no run to claim after 10 s")
	}
	if _, err := r.runCall(ctx, cl.RunID, "start", wire.RunCall{ClaimToken: cl.ClaimToken}); err != nil {
		return nil, err
	}
	return cl, nil
}
