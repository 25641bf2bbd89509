package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ReplayWindow is how far a request's timestamp may be from now: Slack's
// recommended five minutes, so a captured request cannot be replayed later.
const ReplayWindow = 5 * time.Minute

// Verification failures. Each answers 401 and stores nothing.
var (
	ErrNoSignature  = errors.New("missing X-Slack-Signature or X-Slack-Request-Timestamp")
	ErrBadTimestamp = errors.New("malformed X-Slack-Request-Timestamp")
	ErrStale        = errors.New("request timestamp is outside the 5-minute window")
	ErrBadSignature = errors.New("signature does not match")
)

// Verify checks a request's v0 signature as Slack documents it: the hex
// HMAC-SHA256, keyed by the signing secret, of "v0:<timestamp>:<raw body>",
// compared in constant time, with a timestamp within ReplayWindow of now.
// slack-go's SecretsVerifier does the same against the wall clock only;
// taking now as an argument lets Slack's published example be a test
// vector.
func Verify(h http.Header, body []byte, secret string, now time.Time) error {
	sig, ts := h.Get("X-Slack-Signature"), h.Get("X-Slack-Request-Timestamp")
	if sig == "" || ts == "" || secret == "" {
		return ErrNoSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	if d := now.Sub(time.Unix(sec, 0)); d > ReplayWindow || d < -ReplayWindow {
		return ErrStale
	}
	hexSig, ok := strings.CutPrefix(sig, "v0=")
	if !ok {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return ErrBadSignature
	}
	if !hmac.Equal(got, Sign(secret, ts, body)) {
		return ErrBadSignature
	}
	return nil
}

// Sign returns the raw v0 HMAC of a request as Slack computes it; Slack
// sends it hex-encoded, after "v0=", in X-Slack-Signature.
func Sign(secret, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + timestamp + ":"))
	m.Write(body)
	return m.Sum(nil)
}
