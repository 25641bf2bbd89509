package slack

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestResponseURLStaysOutOfLogs: a response_url lets anyone post as the app
// for half an hour, so neither a failed post to one (a server that is
// gone) nor a refused one puts it in the log or the error.
func TestResponseURLStaysOutOfLogs(t *testing.T) {
	t.Parallel()
	gone := httptest.NewServer(nil)
	gone.Close()
	const secret = "/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN"
	var logs bytes.Buffer
	b, err := New(Config{BotToken: "xoxb-test", APIURL: gone.URL + "/api/"}, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{gone.URL + secret, "https://hooks.example.com" + secret} {
		err := b.respond(context.Background(), u, "Canceled MSJ-1.")
		if err == nil || strings.Contains(err.Error(), "96rGlfmibIGlgcZRskXaIFfN") || strings.Contains(err.Error(), "/commands/") ||
			!strings.Contains(err.Error(), "response_url") {
			t.Errorf("respond to %s: %v, want an error about the response_url without it", u, err)
		}
		logs.Reset()
		b.say(context.Background(), u, "Canceled MSJ-1.")
		if out := logs.String(); !strings.Contains(out, "response_url") || strings.Contains(out, "96rGlfmibIGlgcZRskXaIFfN") || strings.Contains(out, "/commands/") {
			t.Errorf("log of a failed answer to %s names the URL, or not the response_url:\n%s", u, out)
		}
	}
}
