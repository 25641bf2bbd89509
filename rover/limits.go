package rover

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/ufo-run/ufo/rover/gitwork"
	"github.com/ufo-run/ufo/rover/wire"
)

// The server refuses request bodies over 1 MiB. These bounds keep every
// call below that with room to spare, whatever a pilot prints (a pilot's
// line may be 16 MiB).
const (
	maxBatchBytes      = 512 << 10 // event data in one events call
	maxEventBytes      = 128 << 10 // one event's data
	maxStringBytes     = 16 << 10  // a string kept in an event that was too large
	maxMessageBytes    = 16 << 10  // a completion's failure message
	maxFinalBytes      = 256 << 10 // a completion's final message
	maxCompletionBytes = 900 << 10
	// eventOverhead is what an event adds to its data in a batch (seq,
	// type, time, punctuation), rounded up.
	eventOverhead = 128
)

// encode is JSON as sent to the server: without HTML escaping, which would
// blow a diff's "<" and ">" up to six bytes each.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// cutString keeps the first max bytes of s (whole runes) and says how much
// went.
func cutString(s string, max int) string {
	if len(s) <= max {
		return s
	}
	keep := max
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + fmt.Sprintf("…[%d bytes cut]", len(s)-keep)
}

// shrinkEvent makes an event's data small enough to send: long strings
// anywhere in it are cut; if that is not enough, the data becomes a note
// of what was there.
func shrinkEvent(typ string, raw json.RawMessage) json.RawMessage {
	if len(raw) <= maxEventBytes {
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) == nil {
		if out, err := encode(shrinkStrings(v)); err == nil && len(out) <= maxEventBytes {
			return out
		}
	}
	out, _ := encode(map[string]any{
		"message":   fmt.Sprintf("a %s event of %d bytes was too large to send", typ, len(raw)),
		"truncated": true,
	})
	return out
}

func shrinkStrings(v any) any {
	switch v := v.(type) {
	case string:
		return cutString(v, maxStringBytes)
	case map[string]any:
		for k, e := range v {
			v[k] = shrinkStrings(e)
		}
	case []any:
		for i, e := range v {
			v[i] = shrinkStrings(e)
		}
	}
	return v
}

// fitCompletion cuts the messages and then the diff of c until it can be
// sent (the diff's stats stay whole).
func fitCompletion(c *wire.Completion) {
	c.FailureMessage = cutString(c.FailureMessage, maxMessageBytes)
	c.FinalMessage = cutString(c.FinalMessage, maxFinalBytes)
	if c.Artifact == nil {
		return
	}
	full := c.Artifact.Diff
	limit := len(full)
	for limit > 0 {
		b, err := encode(c)
		if err != nil || len(b) <= maxCompletionBytes {
			return
		}
		// Scale the diff by how much too large the whole is, with a margin
		// for what JSON escaping adds.
		limit = int(int64(limit) * maxCompletionBytes / int64(len(b)) * 9 / 10)
		c.Artifact.Diff = gitwork.TruncateDiff(full, limit)
	}
}
