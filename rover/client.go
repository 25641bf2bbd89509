package rover

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ufo-run/ufo/rover/wire"
)

// ErrRevoked means the server refused the rover's token (401): the rover
// was removed or its token revoked, and that registration stops.
var ErrRevoked = errors.New("rover token refused by the server (revoked or removed)")

// callTimeout bounds every call but the long-poll claim.
const callTimeout = 30 * time.Second

// APIError is a non-2xx answer of the server.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("server answered %d", e.Status)
	}
	return fmt.Sprintf("server answered %d %s: %s", e.Status, e.Code, e.Message)
}

// transient reports whether a failed call is worth retrying: the server
// was unreachable or answered 5xx, 408 or 429.
func transient(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, ErrRevoked) && !errors.Is(err, ErrBusy)
	}
	return ae.Status >= 500 || ae.Status == http.StatusRequestTimeout || ae.Status == http.StatusTooManyRequests
}

// leaseLost reports whether a per-run call was refused because this rover no
// longer holds the run: 409 (stale claim token) or 404 (the run is gone).
func leaseLost(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.Status == http.StatusConflict || ae.Status == http.StatusNotFound)
}

// client speaks the rover protocol to one server with one token.
type client struct {
	server  string
	token   string
	version string
	hc      *http.Client
}

func (c *client) enroll(ctx context.Context, req wire.EnrollRequest) (wire.EnrollResponse, error) {
	var resp wire.EnrollResponse
	_, err := c.call(ctx, http.MethodPost, "/api/rovers/enroll", false, req, &resp)
	return resp, err
}

func (c *client) connect(ctx context.Context, p wire.Profile) (wire.ConnectResponse, error) {
	var resp wire.ConnectResponse
	_, err := c.call(ctx, http.MethodPost, "/api/rover/connect", true, wire.ConnectRequest{Profile: p}, &resp)
	return resp, err
}

// claim long-polls for a run; nil, nil means nothing to do.
func (c *client) claim(ctx context.Context, wait time.Duration) (*wire.Claim, error) {
	secs := max(0, int((wait+time.Second-1)/time.Second))
	// The server holds the request up to wait; give it room to answer.
	ctx, cancel := context.WithTimeout(ctx, wait+callTimeout)
	defer cancel()
	var cl wire.Claim
	status, err := c.do(ctx, http.MethodPost, "/api/rover/claim?wait="+strconv.Itoa(secs), true, wire.ClaimRequest{}, &cl)
	if err != nil || status == http.StatusNoContent {
		return nil, err
	}
	if cl.RunID == "" || cl.ClaimToken == "" {
		return nil, fmt.Errorf("claim: the server answered %d without a run", status)
	}
	return &cl, nil
}

func (c *client) runCall(ctx context.Context, runID, action string, body any) (wire.RunAck, error) {
	var ack wire.RunAck
	_, err := c.call(ctx, http.MethodPost, "/api/rover/runs/"+url.PathEscape(runID)+"/"+action, true, body, &ack)
	return ack, err
}

// revoke deletes the rover on the server (DELETE /api/rover/self).
func (c *client) revoke(ctx context.Context) error {
	_, err := c.call(ctx, http.MethodDelete, "/api/rover/self", true, nil, nil)
	return err
}

func (c *client) call(ctx context.Context, method, path string, auth bool, in, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return c.do(ctx, method, path, auth, in, out)
}

func (c *client) do(ctx context.Context, method, path string, auth bool, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := encode(in)
		if err != nil {
			return 0, fmt.Errorf("encode %s: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.server, "/")+path, body)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ufo-rover/"+c.version)
	if auth {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if auth && resp.StatusCode == http.StatusUnauthorized {
		return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, ErrRevoked)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &APIError{Status: resp.StatusCode}
		var shape struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &shape) == nil {
			ae.Code, ae.Message = shape.Error.Code, shape.Error.Message
		}
		return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, ae)
	}
	if out != nil && resp.StatusCode != http.StatusNoContent && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}
