package web_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ufo-run/ufo/app/web"
	"github.com/ufo-run/ufo/app/web/webtest"
	"github.com/ufo-run/ufo/rover"
	"github.com/ufo-run/ufo/rover/pilot"
	"github.com/ufo-run/ufo/rover/wire"
)

// loseFirstAnswer sends every request on, but answers the first request
// whose path ends in suffix with an error instead of the server's answer,
// as a connection reset after the server did the work would.
type loseFirstAnswer struct {
	suffix string
	after  time.Duration // how long the lost answer keeps the rover waiting
	lost   atomic.Bool
}

func (l *loseFirstAnswer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && strings.HasSuffix(req.URL.Path, l.suffix) && l.lost.CompareAndSwap(false, true) {
		resp.Body.Close()
		time.Sleep(l.after)
		return nil, errors.New("connection reset by peer")
	}
	return resp, err
}

// A completion the server recorded but whose answer the rover never got
// is sent again, and the run is reported as it ended: succeeded, not lost
// to another attempt. The lost answer takes longer than a heartbeat's
// interval, and the rover's heartbeats (refused once the run has ended)
// must not drop the completion meanwhile. The operation is in review,
// with one run.
func TestCompletionWhoseAnswerWasLostIsSentAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(cfg *web.Config) { cfg.Heartbeat = time.Second })
	c, fleet := e.SignUp("lost-answer@example.com")
	f := "?fleet=" + fleet
	c.Call("POST", "/api/missions"+f, `{"name":"Lost","key":"LOST"}`, 201, nil)
	c.Call("POST", "/api/pilots"+f, `{"name":"sh","kind":"exec","settings":{"command":"true"}}`, 201, nil)
	var op operationJSON
	c.Call("POST", "/api/operations"+f, `{"title":"once","mission_id":"LOST","assignee_type":"pilot","assignee_id":"sh"}`, 201, &op)
	var code struct{ Code string }
	c.Call("POST", "/api/rovers/enrollment-codes"+f, `{}`, 201, &code)

	tr := &loseFirstAnswer{suffix: "/complete", after: 2500 * time.Millisecond}
	out, err := rover.Once(context.Background(), rover.Config{
		Server: e.URL, Home: t.TempDir(), EnrollmentCode: code.Code, Logger: webtest.Logger(t, slog.LevelWarn),
		HTTPClient: &http.Client{Transport: tr},
		RetryMin:   10 * time.Millisecond, RetryMax: 50 * time.Millisecond,
		Detect: func(context.Context) []wire.CLI { return []wire.CLI{{Kind: "exec"}} },
		RunPilot: func(context.Context, pilot.Spec, pilot.Emit) pilot.Result {
			return pilot.Result{FinalMessage: "done"}
		},
	})
	if !tr.lost.Load() {
		t.Fatal("no completion was sent")
	}
	if err != nil || out.Status != wire.RunSucceeded {
		t.Fatalf("Once = %+v, %v; want the run reported succeeded", out, err)
	}
	var runs []runJSON
	c.Call("GET", "/api/runs"+f+"&operation="+op.ID, nil, 200, &runs)
	var got operationJSON
	c.Call("GET", "/api/operations/"+op.ID+f, nil, 200, &got)
	if len(runs) != 1 || runs[0].Status != "succeeded" || got.Status != "in_review" {
		t.Fatalf("runs %+v, operation %s; want one succeeded run and the operation in review", runs, got.Status)
	}
	// The repeat is not counted as another run finished.
	_, metrics, _ := e.Client().Do("GET", "/metrics", nil)
	if want := `ufo_runs_finished_total{status="succeeded"} 1` + "\n"; !strings.Contains(string(metrics), want) {
		t.Fatalf("metrics lack %q:\n%s", want, grepLines(string(metrics), "ufo_runs_finished_total"))
	}
}

// grepLines is the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
