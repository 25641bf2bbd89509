//go:build unix

package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// apiClient is a person signed in to the API through the balancer.
type apiClient struct {
	base  string
	hc    *http.Client
	fleet string

	mu sync.Mutex
	// wrong counts answers that contradict what the fleet holds, by their
	// status and message: a 401 to a session that was never signed out, a
	// 404 for the mission that exists. The chaos causes them (a lookup
	// that fails while PostgreSQL restarts is taken for a missing row);
	// they are retried, and reported as findings.
	wrong map[string]int
}

func newAPIClient(base string) *apiClient {
	jar, _ := cookiejar.New(nil)
	return &apiClient{base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// do sends in as JSON and decodes a 2xx answer into out. status is 0 when
// no answer came.
func (a *apiClient) do(ctx context.Context, method, path string, in, out any) (status int, err error) {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return 0, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// retry repeats a call the chaos may have broken (no answer, 5xx) for up
// to a minute; other failures end it.
func (a *apiClient) retry(ctx context.Context, method, path string, in, out any) error {
	deadline := time.Now().Add(time.Minute)
	for {
		status, err := a.do(ctx, method, path, in, out)
		if err == nil || (status != 0 && status < 500) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (a *apiClient) fleetPath(path string) string {
	sep := "?"
	if bytes.ContainsRune([]byte(path), '?') {
		sep = "&"
	}
	return path + sep + "fleet=" + url.QueryEscape(a.fleet)
}

func (a *apiClient) signUp(ctx context.Context, t *testing.T) string {
	t.Helper()
	var out struct {
		Fleet struct {
			ID string `json:"id"`
		} `json:"fleet"`
	}
	if err := a.retry(ctx, "POST", "/api/auth/signup", map[string]string{"email": "chaos@example.com", "password": "chaos-password", "name": "Chaos"}, &out); err != nil {
		t.Fatal(err)
	}
	a.fleet = out.Fleet.ID
	return a.fleet
}

// create posts to a fleet collection before the chaos starts and returns
// the new id.
func (a *apiClient) create(ctx context.Context, t *testing.T, path string, in any) string {
	t.Helper()
	var out struct {
		ID string `json:"id"`
	}
	if err := a.retry(ctx, "POST", a.fleetPath(path), in, &out); err != nil {
		t.Fatal(err)
	}
	return out.ID
}

func (a *apiClient) enrollmentCode(ctx context.Context, t *testing.T) string {
	t.Helper()
	var out struct {
		Code string `json:"code"`
	}
	if err := a.retry(ctx, "POST", a.fleetPath("/api/rovers/enrollment-codes"), map[string]any{}, &out); err != nil {
		t.Fatal(err)
	}
	return out.Code
}

// waitOnline waits until n rovers of the fleet are online.
func (a *apiClient) waitOnline(ctx context.Context, t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var rovers []struct {
			Status string `json:"status"`
		}
		if _, err := a.do(ctx, "GET", a.fleetPath("/api/rovers"), nil, &rovers); err == nil {
			online := 0
			for _, r := range rovers {
				if r.Status != "offline" {
					online++
				}
			}
			if online >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rovers not online within %s", n, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// createOnce creates an operation titled title exactly once, though a
// server may die between its commit and its answer: after a lost answer it
// looks the title up before trying again. ambiguous reports such a loss.
func (a *apiClient) createOnce(ctx context.Context, title string, in any) (ambiguous bool, err error) {
	deadline := time.Now().Add(time.Minute)
	for {
		status, err := a.do(ctx, "POST", a.fleetPath("/api/operations"), in, nil)
		if err == nil {
			return ambiguous, nil
		}
		if status == http.StatusUnauthorized || status == http.StatusNotFound {
			a.contradicted(status, err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if status != 0 && status < 500 {
			return ambiguous, err
		}
		ambiguous = true
		for {
			found, lerr := a.exists(ctx, title)
			if lerr == nil && found {
				return true, nil
			}
			if lerr == nil {
				break
			}
			if time.Now().After(deadline) {
				return true, fmt.Errorf("look %s up: %w", title, lerr)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			return true, fmt.Errorf("create %s: %w", title, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// contradicted records an answer the fleet's state contradicts.
func (a *apiClient) contradicted(status int, err error) {
	msg := err.Error()
	if i := strings.Index(msg, `"message":"`); i >= 0 {
		msg = strings.TrimSuffix(msg[i+len(`"message":"`):], `"}}`)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.wrong == nil {
		a.wrong = map[string]int{}
	}
	a.wrong[fmt.Sprintf("%d %s", status, msg)]++
}

// exists reports whether an operation of the fleet has exactly this title.
func (a *apiClient) exists(ctx context.Context, title string) (bool, error) {
	var ops []struct {
		Title string `json:"title"`
	}
	if _, err := a.do(ctx, "GET", a.fleetPath("/api/operations?limit=200&q="+url.QueryEscape(title)), nil, &ops); err != nil {
		return false, err
	}
	for _, o := range ops {
		if o.Title == title {
			return true, nil
		}
	}
	return false, nil
}
