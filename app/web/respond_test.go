package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

// A request whose caller hung up is not logged as a failure; other
// internal errors are, and both answer 500 internal.
func TestWriteErrorLogsFailuresOnly(t *testing.T) {
	for _, c := range []struct {
		err    error
		logged bool
	}{
		{fmt.Errorf("claim: %w", context.Canceled), false},
		{errors.New("connection refused"), true},
	} {
		var buf bytes.Buffer
		w := httptest.NewRecorder()
		writeError(w, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})), c.err)
		if w.Code != 500 || !strings.Contains(w.Body.String(), `"internal"`) {
			t.Errorf("%v: answered %d %s, want 500 internal", c.err, w.Code, w.Body)
		}
		if got := strings.Contains(buf.String(), "level=ERROR"); got != c.logged {
			t.Errorf("%v: logged as an error %v, want %v (log %q)", c.err, got, c.logged, buf.String())
		}
	}
}
