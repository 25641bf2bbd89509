package slack_test

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/ufo-run/ufo/bot/slack"
)

// Slack's published signing example (docs: "Verifying requests from Slack").
const (
	vectorSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	vectorTimestamp = "1531420618"
	vectorBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	vectorSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

func TestVerifyPublishedVector(t *testing.T) {
	t.Parallel()
	at := time.Unix(1531420618, 0)
	header := func(sig, ts string) http.Header {
		h := http.Header{}
		if sig != "" {
			h.Set("X-Slack-Signature", sig)
		}
		if ts != "" {
			h.Set("X-Slack-Request-Timestamp", ts)
		}
		return h
	}
	tests := []struct {
		name   string
		header http.Header
		body   string
		secret string
		now    time.Time
		want   error
	}{
		{"the published example", header(vectorSignature, vectorTimestamp), vectorBody, vectorSecret, at, nil},
		{"4 minutes later", header(vectorSignature, vectorTimestamp), vectorBody, vectorSecret, at.Add(4 * time.Minute), nil},
		{"4 minutes early (clock skew)", header(vectorSignature, vectorTimestamp), vectorBody, vectorSecret, at.Add(-4 * time.Minute), nil},
		{"replayed after 5 minutes", header(vectorSignature, vectorTimestamp), vectorBody, vectorSecret, at.Add(5*time.Minute + time.Second), slack.ErrStale},
		{"from the future", header(vectorSignature, vectorTimestamp), vectorBody, vectorSecret, at.Add(-6 * time.Minute), slack.ErrStale},
		{"a changed body", header(vectorSignature, vectorTimestamp), vectorBody + "&text=rm", vectorSecret, at, slack.ErrBadSignature},
		{"another secret", header(vectorSignature, vectorTimestamp), vectorBody, "another secret", at, slack.ErrBadSignature},
		{"another timestamp", header(vectorSignature, "1531420619"), vectorBody, vectorSecret, at, slack.ErrBadSignature},
		{"no v0= prefix", header(vectorSignature[3:], vectorTimestamp), vectorBody, vectorSecret, at, slack.ErrBadSignature},
		{"not hex", header("v0=zz", vectorTimestamp), vectorBody, vectorSecret, at, slack.ErrBadSignature},
		{"no signature", header("", vectorTimestamp), vectorBody, vectorSecret, at, slack.ErrNoSignature},
		{"no timestamp", header(vectorSignature, ""), vectorBody, vectorSecret, at, slack.ErrNoSignature},
		{"a timestamp that is not a number", header(vectorSignature, "soon"), vectorBody, vectorSecret, at, slack.ErrBadTimestamp},
		{"no secret configured", header(vectorSignature, vectorTimestamp), vectorBody, "", at, slack.ErrNoSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := slack.Verify(tc.header, []byte(tc.body), tc.secret, tc.now); !errors.Is(got, tc.want) {
				t.Fatalf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
	if got := "v0=" + hex.EncodeToString(slack.Sign(vectorSecret, vectorTimestamp, []byte(vectorBody))); got != vectorSignature {
		t.Fatalf("Sign = %s, want %s", got, vectorSignature)
	}
}

// TestVerifyAgreesWithSlackGo checks the clock-injectable verifier against
// slack-go's (which uses the wall clock) on a fresh request.
func TestVerifyAgreesWithSlackGo(t *testing.T) {
	t.Parallel()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	body := []byte(vectorBody)
	for _, sig := range []string{"v0=" + hex.EncodeToString(slack.Sign(vectorSecret, ts, body)), vectorSignature} {
		h := http.Header{}
		h.Set("X-Slack-Signature", sig)
		h.Set("X-Slack-Request-Timestamp", ts)
		ours := slack.Verify(h, body, vectorSecret, time.Now())
		sv, err := slackapi.NewSecretsVerifier(h, vectorSecret)
		if err != nil {
			t.Fatal(err)
		}
		sv.Write(body)
		theirs := sv.Ensure()
		if (ours == nil) != (theirs == nil) {
			t.Fatalf("signature %s: ours %v, slack-go %v", sig, ours, theirs)
		}
	}
}
