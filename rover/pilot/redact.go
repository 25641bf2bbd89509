package pilot

import (
	"bytes"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/ufo-run/ufo/rover/wire"
)

// redacted replaces every secret in events and results.
const redacted = "[redacted]"

// minEnvSecret is the shortest environment value treated as a secret;
// shorter ones ("1", "true") would mangle ordinary text.
const minEnvSecret = 6

// redactor replaces secret values with "[redacted]".
type redactor struct {
	r *strings.Replacer // nil when there is nothing to redact
}

// newRedactor redacts the given values and the values of environment
// variables whose names contain TOKEN, KEY, SECRET or PASSWORD, each line
// of a secret of several lines too (a PEM key printed line by line reaches
// the events one line at a time), and the password of any variable that
// holds a URL with one (HTTPS_PROXY=http://user:password@host).
func newRedactor(values []string, env []string) redactor {
	seen := map[string]bool{}
	var secrets []string
	add := func(v string) {
		if v == "" || seen[v] {
			return
		}
		seen[v] = true
		secrets = append(secrets, v)
		if strings.Contains(v, "\n") {
			for _, line := range strings.Split(v, "\n") {
				if line = strings.TrimSpace(line); len(line) >= minEnvSecret && !seen[line] {
					seen[line] = true
					secrets = append(secrets, line)
				}
			}
		}
	}
	for _, v := range values {
		add(v)
	}
	for _, kv := range env {
		name, v, ok := strings.Cut(kv, "=")
		if !ok || len(v) < minEnvSecret {
			continue
		}
		if secretName(name) {
			add(v)
		}
		if u, err := url.Parse(v); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && len(pw) >= minEnvSecret {
				add(pw)
			}
		}
	}
	if len(secrets) == 0 {
		return redactor{}
	}
	// The replacer tries its arguments in order at each position: longest
	// first, so a secret that contains another is redacted whole.
	sort.SliceStable(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, s, redacted)
	}
	return redactor{r: strings.NewReplacer(pairs...)}
}

func secretName(name string) bool {
	n := strings.ToUpper(name)
	for _, w := range []string{"TOKEN", "KEY", "SECRET", "PASSWORD"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func (r redactor) string(s string) string {
	if r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// json redacts a JSON document. It redacts inside the decoded strings (and
// object keys) and encodes again, rather than replacing in the encoded
// bytes: a secret may be spelled with escapes there (\u002f, \/), and a
// replacement across an escape sequence could break the document.
func (r redactor) json(b []byte) []byte {
	if r.r == nil {
		return b
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		// Not JSON (cannot happen for what json.Marshal made): redact the
		// text and encode it as a string.
		out, _ := json.Marshal(r.string(string(b)))
		return out
	}
	out, err := json.Marshal(r.value(v))
	if err != nil {
		return b
	}
	return out
}

func (r redactor) value(v any) any {
	switch v := v.(type) {
	case string:
		return r.string(v)
	case []any:
		for i := range v {
			v[i] = r.value(v[i])
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[r.string(k)] = r.value(e)
		}
		return out
	default:
		return v
	}
}

func (r redactor) result(res Result) Result {
	res.SessionID = r.string(res.SessionID)
	res.FinalMessage = r.string(res.FinalMessage)
	res.Message = r.string(res.Message)
	return res
}

// sink marshals, redacts and forwards events, one at a time.
type sink struct {
	mu  sync.Mutex
	to  Emit
	red redactor
}

func (s *sink) emit(typ string, data any) {
	if s.to == nil {
		return
	}
	b, err := json.Marshal(data)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"message": "unencodable " + typ + " event: " + err.Error()})
		typ = wire.EventError
	}
	b = s.red.json(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.to(typ, json.RawMessage(b))
}
