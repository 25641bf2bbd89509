package webtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"
)

// Client is a browser-like client of the server's API with its own cookie
// jar; with Token set it is a rover.
type Client struct {
	T     testing.TB
	Base  string // the server's URL
	HTTP  *http.Client
	Token string // rover bearer token, when set
	// Header is sent with every request, when set.
	Header http.Header
}

// WithHeader is a copy of c, sharing its cookies, that sends the header
// with every request.
func (c *Client) WithHeader(name, value string) *Client {
	n := *c
	n.Header = c.Header.Clone()
	if n.Header == nil {
		n.Header = http.Header{}
	}
	n.Header.Set(name, value)
	return &n
}

// Client makes a signed-out client that follows redirects.
func (s *Server) Client() *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{T: s.T, Base: s.URL, HTTP: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// NoRedirects is a copy of c, sharing its cookies, that reports redirects
// instead of following them.
func (c *Client) NoRedirects() *Client {
	hc := *c.HTTP
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	n := *c
	n.HTTP = &hc
	return &n
}

// Do sends a request; body may be nil, a string (sent raw) or a value
// (sent as JSON).
func (c *Client) Do(method, path string, body any) (int, []byte, http.Header) {
	c.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.T.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		c.T.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

// Call sends a request, requires the status and decodes the answer into
// out (when not nil).
func (c *Client) Call(method, path string, body any, want int, out any) {
	c.T.Helper()
	status, b, _ := c.Do(method, path, body)
	if status != want {
		c.T.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.T.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// WantError requires an error answer with the status and machine code.
func (c *Client) WantError(method, path string, body any, status int, code string) {
	c.T.Helper()
	got, b, _ := c.Do(method, path, body)
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(b, &e); err != nil || got != status || e.Error.Code != code || e.Error.Message == "" {
		c.T.Fatalf("%s %s: got %d %s, want %d with code %q", method, path, got, b, status, code)
	}
}

// SignUp makes a user named after the address, with password P@ssw0rd and
// a fleet, and returns their client and the fleet's id.
func (s *Server) SignUp(email string) (*Client, string) {
	s.T.Helper()
	c := s.Client()
	var out struct {
		Fleet struct {
			ID string `json:"id"`
		} `json:"fleet"`
	}
	c.Call("POST", "/api/auth/signup", map[string]string{"email": email, "password": "P@ssw0rd", "name": strings.Split(email, "@")[0]}, 201, &out)
	return c, out.Fleet.ID
}
