// Package slackfake is a fake Slack for tests: the Web API methods UFO
// calls (auth.test, chat.postMessage, chat.update, chat.postEphemeral,
// users.info, apps.connections.open), response URLs, and a Socket Mode
// WebSocket. It follows Slack's documented wire formats: form-encoded or
// JSON requests with the token as a bearer header or a token field, and
// answers of HTTP 200 with {"ok":true,…} or {"ok":false,"error":"…"}. It
// records every call, and keeps each message as its last edit left it.
package slackfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Identity of the fake workspace and its bot.
const (
	TeamID    = "T0UFOTEST"
	TeamName  = "UFO Test"
	BotUserID = "U0UFOBOT"
	BotID     = "B0UFOBOT"
	AppID     = "A0UFOAPP"
)

// Call is one request the fake received.
type Call struct {
	Method string     // "chat.update", … or "response_url"
	Args   url.Values // the arguments, whichever encoding carried them
	At     time.Time
}

// Text is the call's text argument.
func (c Call) Text() string { return c.Args.Get("text") }

// Blocks is the call's blocks argument as JSON, or "".
func (c Call) Blocks() string { return c.Args.Get("blocks") }

// Message is a message in a channel as its last post or edit left it.
type Message struct {
	Channel, TS, Text, Blocks string
	Edits                     int
}

// User is a workspace member users.info describes.
type User struct {
	ID, Name, RealName, Email string
	EmailConfirmed            bool
	// Restricted is a multi-channel guest, UltraRestricted a
	// single-channel guest (users.info is_restricted, is_ultra_restricted).
	Restricted, UltraRestricted bool
}

// Server is the fake Slack.
type Server struct {
	*httptest.Server
	// BotToken and AppToken are the tokens it accepts.
	BotToken, AppToken string

	mu       sync.Mutex
	calls    []Call
	messages map[string]*Message
	users    map[string]User
	outside  map[string]bool // channels the bot is not in
	holds    map[string]chan struct{}
	seq      int
	changed  chan struct{}

	sockets chan *websocket.Conn
	acks    map[string]json.RawMessage
}

// New starts a fake Slack, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{BotToken: "xoxb-ufo-test", AppToken: "xapp-ufo-test", messages: map[string]*Message{},
		users: map[string]User{}, outside: map[string]bool{}, holds: map[string]chan struct{}{}, changed: make(chan struct{}),
		sockets: make(chan *websocket.Conn, 4), acks: map[string]json.RawMessage{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/{method}", s.api)
	mux.HandleFunc("POST /response/{name}", s.response)
	mux.HandleFunc("GET /socket", s.socket)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		s.Server.CloseClientConnections()
		s.Server.Close()
	})
	return s
}

// APIURL is the Web API base URL, with the trailing slash slack-go needs.
func (s *Server) APIURL() string { return s.URL + "/api/" }

// ResponseURL is a response_url the fake answers, as Slack puts in a
// command or interaction payload.
func (s *Server) ResponseURL(name string) string { return s.URL + "/response/" + name }

// AddUser makes a workspace member users.info knows.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

// Outside makes the bot not a member of channel: posting there fails with
// not_in_channel.
func (s *Server) Outside(channel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outside[channel] = true
}

// Hold makes calls of a Web API method wait, once recorded, until the
// function it returns is called (or the caller gives up): a slow Slack.
func (s *Server) Hold(method string) (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.holds[method] = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.holds[method] == ch {
				delete(s.holds, method)
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// Calls returns the calls of a method ("" for all), oldest first.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Message returns a message as it stands.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.messages[channel+"/"+ts]
	if !ok {
		return Message{}, false
	}
	return *m, true
}

// Wait polls cond, on every call the fake receives, until it holds or the
// timeout passes; it fails the test then.
func (s *Server) Wait(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("slackfake: gave up waiting for %s after %s", what, timeout)
		}
	}
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	close(s.changed)
	s.changed = make(chan struct{})
}

// args reads a Web API request's arguments and token, form-encoded or JSON.
func args(r *http.Request) (url.Values, string, error) {
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, "", err
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	v := url.Values{}
	switch ct {
	case "application/json":
		var m map[string]any
		if len(bytes.TrimSpace(body)) == 0 {
			break // a method without arguments may send no body
		}
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, "", err
		}
		for k, x := range m {
			if str, ok := x.(string); ok {
				v.Set(k, str)
			} else {
				b, _ := json.Marshal(x)
				v.Set(k, string(b))
			}
		}
	default:
		if v, err = url.ParseQuery(string(body)); err != nil {
			return nil, "", err
		}
	}
	if token == "" {
		token = v.Get("token")
	}
	v.Del("token")
	return v, token, nil
}

func reply(w http.ResponseWriter, v map[string]any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, code string) { reply(w, map[string]any{"ok": false, "error": code}) }

func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	v, token, err := args(r)
	if err != nil {
		fail(w, "invalid_form_data")
		return
	}
	s.record(Call{Method: method, Args: v, At: time.Now()})
	want := s.BotToken
	if method == "apps.connections.open" {
		want = s.AppToken
	}
	switch {
	case token == "":
		fail(w, "not_authed")
		return
	case token != want:
		fail(w, "invalid_auth")
		return
	}
	s.mu.Lock()
	hold := s.holds[method]
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	switch method {
	case "auth.test":
		reply(w, map[string]any{"ok": true, "url": "https://ufo-test.slack.com/", "team": TeamName, "user": "ufo",
			"team_id": TeamID, "user_id": BotUserID, "bot_id": BotID, "is_enterprise_install": false})
	case "chat.postMessage":
		s.postMessage(w, v)
	case "chat.update":
		s.update(w, v)
	case "chat.postEphemeral":
		if m := s.check(w, v); m {
			reply(w, map[string]any{"ok": true, "message_ts": s.nextTS()})
		}
	case "users.info":
		s.usersInfo(w, v)
	case "apps.connections.open":
		reply(w, map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(s.URL, "http") + "/socket"})
	default:
		fail(w, "unknown_method")
	}
}

// check validates the arguments every chat method shares: a channel the
// bot is in, and text or well-formed blocks.
func (s *Server) check(w http.ResponseWriter, v url.Values) bool {
	ch := v.Get("channel")
	s.mu.Lock()
	outside := s.outside[ch]
	s.mu.Unlock()
	switch {
	case ch == "":
		fail(w, "channel_not_found")
		return false
	case outside:
		fail(w, "not_in_channel")
		return false
	case v.Get("text") == "" && v.Get("blocks") == "":
		fail(w, "no_text")
		return false
	}
	if b := v.Get("blocks"); b != "" {
		var blocks []struct {
			Type string `json:"type"`
		}
		if json.Unmarshal([]byte(b), &blocks) != nil || len(blocks) > 50 {
			fail(w, "invalid_blocks")
			return false
		}
		for _, blk := range blocks {
			if blk.Type == "" {
				fail(w, "invalid_blocks")
				return false
			}
		}
	}
	return true
}

func (s *Server) nextTS() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("%d.%06d", time.Now().Unix(), s.seq)
}

func (s *Server) postMessage(w http.ResponseWriter, v url.Values) {
	if !s.check(w, v) {
		return
	}
	ts := s.nextTS()
	m := &Message{Channel: v.Get("channel"), TS: ts, Text: v.Get("text"), Blocks: v.Get("blocks")}
	s.mu.Lock()
	s.messages[m.Channel+"/"+ts] = m
	s.mu.Unlock()
	reply(w, map[string]any{"ok": true, "channel": m.Channel, "ts": ts, "message": s.wire(m)})
}

func (s *Server) update(w http.ResponseWriter, v url.Values) {
	if !s.check(w, v) {
		return
	}
	s.mu.Lock()
	m, ok := s.messages[v.Get("channel")+"/"+v.Get("ts")]
	if ok {
		m.Text, m.Blocks = v.Get("text"), v.Get("blocks")
		m.Edits++
	}
	s.mu.Unlock()
	if !ok {
		fail(w, "message_not_found")
		return
	}
	reply(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text, "message": s.wire(m)})
}

func (s *Server) wire(m *Message) map[string]any {
	out := map[string]any{"type": "message", "user": BotUserID, "bot_id": BotID, "app_id": AppID, "text": m.Text, "ts": m.TS}
	if m.Blocks != "" {
		out["blocks"] = json.RawMessage(m.Blocks)
	}
	return out
}

func (s *Server) usersInfo(w http.ResponseWriter, v url.Values) {
	s.mu.Lock()
	u, ok := s.users[v.Get("user")]
	s.mu.Unlock()
	if !ok {
		fail(w, "user_not_found")
		return
	}
	reply(w, map[string]any{"ok": true, "user": map[string]any{
		"id": u.ID, "team_id": TeamID, "name": u.Name, "real_name": u.RealName, "deleted": false, "is_bot": false,
		"is_email_confirmed": u.EmailConfirmed, "tz": "Europe/Amsterdam",
		"is_restricted": u.Restricted || u.UltraRestricted, "is_ultra_restricted": u.UltraRestricted,
		"profile": map[string]any{"real_name": u.RealName, "display_name": u.Name, "email": u.Email, "team": TeamID},
	}})
}

// response takes a post to a response_url: JSON, as Slack documents.
func (s *Server) response(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	v := url.Values{"name": {r.PathValue("name")}}
	for k, x := range m {
		if str, ok := x.(string); ok {
			v.Set(k, str)
		} else {
			b, _ := json.Marshal(x)
			v.Set(k, string(b))
		}
	}
	s.record(Call{Method: "response_url", Args: v, At: time.Now()})
	w.Write([]byte("ok"))
}

// Answers returns what the app posted to one response URL (by the name given
// to ResponseURL), oldest first.
func (s *Server) Answers(name string) []Call {
	var out []Call
	for _, c := range s.Calls("response_url") {
		if c.Args.Get("name") == name {
			out = append(out, c)
		}
	}
	return out
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// socket is the Socket Mode WebSocket: it greets with hello, as Slack does,
// and hands the connection to Send and Ack.
func (s *Server) socket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	hello := map[string]any{"type": "hello", "num_connections": 1,
		"debug_info":      map[string]any{"host": "applink-ufo-test", "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": AppID}}
	if err := conn.WriteJSON(hello); err != nil {
		conn.Close()
		return
	}
	go func() {
		defer conn.Close()
		for {
			var ack struct {
				EnvelopeID string          `json:"envelope_id"`
				Payload    json.RawMessage `json:"payload"`
			}
			if err := conn.ReadJSON(&ack); err != nil {
				return
			}
			s.mu.Lock()
			s.acks[ack.EnvelopeID] = ack.Payload
			close(s.changed)
			s.changed = make(chan struct{})
			s.mu.Unlock()
		}
	}()
	s.sockets <- conn
}

// Socket waits for the app's Socket Mode connection.
func (s *Server) Socket(t testing.TB) *Socket {
	t.Helper()
	select {
	case c := <-s.sockets:
		return &Socket{s: s, conn: c}
	case <-time.After(10 * time.Second):
		t.Fatal("slackfake: the app never opened a Socket Mode connection")
		return nil
	}
}

// Socket is an open Socket Mode connection.
type Socket struct {
	s    *Server
	conn *websocket.Conn
	mu   sync.Mutex
	n    int
}

// Send delivers an envelope (type events_api, slash_commands or
// interactive) and returns its envelope id.
func (k *Socket) Send(t testing.TB, typ string, payload any) string {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.n++
	id := fmt.Sprintf("env-%d", k.n)
	env := map[string]any{"envelope_id": id, "type": typ, "payload": payload,
		"accepts_response_payload": typ == "slash_commands", "retry_attempt": 0, "retry_reason": ""}
	if err := k.conn.WriteJSON(env); err != nil {
		t.Fatalf("slackfake: send envelope: %v", err)
	}
	return id
}

// Ack waits for the app to acknowledge an envelope and returns the
// acknowledgement's payload (null when it carried none).
func (k *Socket) Ack(t testing.TB, id string) json.RawMessage {
	t.Helper()
	var out json.RawMessage
	k.s.Wait(t, 10*time.Second, "ack of "+id, func() bool {
		k.s.mu.Lock()
		defer k.s.mu.Unlock()
		p, ok := k.s.acks[id]
		out = p
		return ok
	})
	return out
}
