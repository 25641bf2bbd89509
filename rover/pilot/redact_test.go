package pilot

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ufo-run/ufo/rover/wire"
)

func TestRedactorSecrets(t *testing.T) {
	t.Parallel()
	r := newRedactor([]string{"hunter2-pass", ""}, []string{
		"GITHUB_TOKEN=ghs_abcdef123456",
		"OPENAI_API_KEY=sk-proj-xyz789",
		"my_secret_thing=lower-case-name",
		"DB_PASSWORD=p@ss/w\"rd<1>",
		"SHORT_TOKEN=abc12", // too short to redact safely
		"HOME=/home/rover",  // not a secret name
		"MONKEY=bananas-all-day",
		"NOEQUALS",
	})
	for _, tc := range []struct{ in, want string }{
		{"push with ghs_abcdef123456 now", "push with [redacted] now"},
		{"key sk-proj-xyz789", "key [redacted]"},
		{"lower-case-name", "[redacted]"},
		{`pw p@ss/w"rd<1>!`, "pw [redacted]!"},
		{"hunter2-pass", "[redacted]"},
		{"abc12 stays", "abc12 stays"},
		{"/home/rover stays", "/home/rover stays"},
		// MONKEY contains KEY: the rule is by name, on purpose broad.
		{"bananas-all-day", "[redacted]"},
	} {
		if got := r.string(tc.in); got != tc.want {
			t.Errorf("redact %q = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A secret of several lines is redacted line by line too (a PEM key the
// pilot prints arrives one line an event), and a URL's password wherever
// it appears.
func TestRedactorLinesAndURLPasswords(t *testing.T) {
	t.Parallel()
	pem := "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx1y2z3\nQk9wX4aBcDeF\n-----END RSA PRIVATE KEY-----\n"
	r := newRedactor(nil, []string{"APP_PRIVATE_KEY=" + pem, "HTTPS_PROXY=http://rover:pr0xy-pass@proxy:3128", "HOME=/home/rover"})
	for _, tc := range []struct{ in, want string }{
		{pem, "[redacted]"},
		{"MIIEowIBAAKCAQEAx1y2z3", "[redacted]"},
		{"line: Qk9wX4aBcDeF", "line: [redacted]"},
		{"proxy password pr0xy-pass", "proxy password [redacted]"},
		{"/home/rover stays", "/home/rover stays"},
	} {
		if got := r.string(tc.in); got != tc.want {
			t.Errorf("redact %q = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactorLongestFirst(t *testing.T) {
	t.Parallel()
	r := newRedactor([]string{"secret", "secret-and-more"}, nil)
	if got := r.string("x secret-and-more y secret"); got != "x [redacted] y [redacted]" {
		t.Errorf("got %q", got)
	}
}

// Secrets are found in JSON whatever escapes spell them, and the result is
// still valid JSON with its numbers intact.
func TestRedactorJSON(t *testing.T) {
	t.Parallel()
	r := newRedactor([]string{`a/b"c<d>`, "plain-secret"}, nil)
	for _, in := range []string{
		`{"text":"x a/b\"c<d> y"}`,
		`{"text":"x a\/b\"c\u003cd\u003e y"}`,
		`{"text":"x \u0061/b\"c<d> y"}`,
		`{"plain-secret":["plain-secret",{"n":12345678901234567890,"s":"plain-secret"}]}`,
	} {
		out := r.json([]byte(in))
		if !json.Valid(out) {
			t.Fatalf("redact %s: invalid JSON %s", in, out)
		}
		if strings.Contains(string(out), "plain-secret") || strings.Contains(string(out), `a/b`) {
			t.Errorf("redact %s = %s: secret left", in, out)
		}
		if !strings.Contains(string(out), redacted) {
			t.Errorf("redact %s = %s: no %s", in, out, redacted)
		}
	}
	out := r.json([]byte(`{"n":12345678901234567890,"f":1.5e300}`))
	if string(out) != `{"f":1.5e300,"n":12345678901234567890}` {
		t.Errorf("numbers changed: %s", out)
	}
	if got := (redactor{}).json([]byte(`{"a":1}`)); string(got) != `{"a":1}` {
		t.Errorf("no secrets: %s", got)
	}
}

// Run redacts events and the result: from Spec.Redact and from secret
// environment variables, also inside passed-through JSON.
func TestRunRedacts(t *testing.T) {
	t.Parallel()
	spec := execSpec(t, `echo "token $GITHUB_TOKEN"; echo '{"type":"tool_use","data":{"id":"1","name":"Bash","input":{"command":"curl -H \"x: hunter2-pass\""}}}'; echo "last hunter2-pass" >&2; echo "final ghs_abcdef123456"; exit 1`)
	spec.Env = append(spec.Env, "GITHUB_TOKEN=ghs_abcdef123456")
	spec.Redact = []string{"hunter2-pass"}
	rec := newRecorder(t)
	res := Run(context.Background(), spec, rec.emit)
	if len(rec.all()) != 4 {
		t.Fatalf("events: %v", rec.types())
	}
	for _, e := range rec.all() {
		if strings.Contains(string(e.Raw), "ghs_abcdef123456") || strings.Contains(string(e.Raw), "hunter2-pass") {
			t.Errorf("%s event leaks a secret: %s", e.Type, e.Raw)
		}
	}
	if got := rec.ofType(wire.EventToolUse)[0].Data["input"].(map[string]any)["command"]; got != `curl -H "x: [redacted]"` {
		t.Errorf("tool_use command = %q", got)
	}
	if res.FinalMessage != "final [redacted]" || strings.Contains(res.Message, "hunter2-pass") || !strings.Contains(res.Message, "last [redacted]") {
		t.Errorf("result = %+v", res)
	}
}
