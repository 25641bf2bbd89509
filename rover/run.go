package rover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ufo-run/ufo/rover/gitwork"
	"github.com/ufo-run/ufo/rover/pilot"
	"github.com/ufo-run/ufo/rover/wire"
)

// Failure reasons the rover itself reports (the pilot reports its own).
const (
	ReasonGitFailed = "git_failed"
	ReasonCanceled  = "canceled"
	ReasonLeaseLost = "lease_lost"
	// ReasonNotReported is Once's reason when the server refused the run's
	// start or completion outright (neither 2xx, 409 nor a retryable error).
	ReasonNotReported = "not_reported"
)

// Causes of a pilot's context ending early.
var (
	errCancelRequested = errors.New("the server asked to cancel the run")
	errLeaseLost       = errors.New("the run's lease was lost")
)

// defaultLease is the server's default lease, for a server that announces
// none.
const defaultLease = 30 * time.Second

// session is one claimed run on its way to the server: the event queue and
// its sender, the heartbeat, the lease, and what they learned from the
// server.
type session struct {
	r     *rover
	claim *wire.Claim
	log   *slog.Logger
	queue *eventQueue
	lease leaseClock
	// stopPilot ends the pilot's context (and process group); dropRun ends
	// the run's, and with it the pilot's, the git work and every call.
	stopPilot, dropRun context.CancelCauseFunc

	canceled atomic.Bool // the server asked to cancel
	lost     atomic.Bool // 409 or 404, or the lease ran out: another attempt may own the run now
	revoked  atomic.Bool // 401: the rover's token is gone
}

// gone reports whether this rover may no longer report on the run.
func (s *session) gone() bool { return s.lost.Load() || s.revoked.Load() }

// execute runs a claim to its end and reports it. The error is ErrRevoked
// or the end of ctx; everything else is the run's outcome.
func (r *rover) execute(ctx context.Context, cl *wire.Claim) (Outcome, error) {
	s := &session{
		r: r, claim: cl, queue: newEventQueue(r.cfg.EventBuffer),
		log: r.log.With("run", cl.RunID, "operation", cl.Operation.Code, "attempt", cl.Attempt),
	}
	// The server's lease began when it handed the claim out, one network
	// trip before now; a heartbeat every third of the lease leaves room.
	s.lease.length = s.leaseLength()
	s.lease.renew(time.Now())
	out := Outcome{RunID: cl.RunID, Status: wire.RunFailed}
	s.log.Info("run claimed", "pilot", cl.Pilot.Name, "kind", cl.Pilot.Kind, "follow_up", cl.FollowUp)

	// runCtx ends when the run is no longer this rover's (the lease is lost,
	// the token refused) or ctx ends; ended tells which from ctx.
	runCtx, dropRun := context.WithCancelCause(ctx)
	pilotCtx, stopPilot := context.WithCancelCause(runCtx)
	s.dropRun, s.stopPilot = dropRun, stopPilot
	watchCtx, stopWatch := context.WithCancel(runCtx)
	watching := make(chan struct{})
	go func() { defer close(watching); s.watchLease(watchCtx) }()
	defer func() { stopPilot(nil); dropRun(nil); stopWatch(); <-watching }()

	ack, err := s.callRetry(runCtx, "start", wire.RunCall{ClaimToken: cl.ClaimToken})
	if err != nil {
		out.Reason, err = s.ended(ctx)
		return out, err
	}
	s.handleAck(ack)

	flushed := make(chan bool, 1)
	closing := make(chan struct{})
	go func() { flushed <- s.sendEvents(runCtx, closing) }()
	beating := make(chan struct{})
	stopBeat := make(chan struct{})
	go func() { defer close(beating); s.heartbeat(runCtx, stopBeat) }()
	stopBeating := sync.OnceFunc(func() { close(stopBeat); <-beating })
	defer stopBeating()

	comp := s.fly(runCtx, pilotCtx)
	close(closing)
	if !<-flushed || s.gone() || runCtx.Err() != nil {
		out.Reason, err = s.ended(ctx)
		return out, err
	}
	// The completion is the run's last word, and the server settles what
	// it means: a completion that landed but whose answer was lost is sent
	// again and answered as done. Nothing of the rover's own may drop it
	// meanwhile: a heartbeat after the server recorded it is refused (the
	// run has ended), and the lease clock no longer runs.
	stopBeating()
	stopWatch()
	<-watching
	if s.gone() || !s.complete(ctx, comp) {
		out.Reason, err = s.ended(ctx)
		return out, err
	}
	out.Status, out.Reason = comp.Status, comp.FailureReason
	return out, nil
}

// ended says why the run stopped short of its completion: Once's reason,
// or execute's error (ErrRevoked, the end of ctx).
func (s *session) ended(ctx context.Context) (string, error) {
	switch {
	case s.revoked.Load():
		return "", ErrRevoked
	case s.lost.Load():
		s.log.Warn("run dropped: its lease is lost, and another attempt may hold it now")
		return ReasonLeaseLost, nil
	case ctx.Err() != nil:
		s.log.Warn("rover stopping: run abandoned; the server requeues it when its lease ends")
		return "", ctx.Err()
	}
	s.log.Error("run not reported: the server refused it")
	return ReasonNotReported, nil
}

// fly prepares the work dir, runs the pilot and collects its work. It
// returns the completion to report. ctx is the run's: once it ends, nothing
// is pushed or reported.
func (s *session) fly(ctx, pilotCtx context.Context) wire.Completion {
	cl := s.claim
	comp := wire.Completion{ClaimToken: cl.ClaimToken, Status: wire.RunSucceeded}
	clonesBefore := s.r.git.Clones()
	work, err := s.r.git.Prepare(pilotCtx, gitwork.Job{OperationID: cl.Operation.ID, Branch: cl.Branch, Repository: cl.Repository})
	if s.r.git.Clones() > clonesBefore {
		s.log.Info("mirror cloned", "mirror", s.r.git.MirrorDir(cl.Repository.CloneURL))
	}
	switch {
	case err == nil:
	case s.gone() || ctx.Err() != nil:
		return comp // not reported
	case s.canceled.Load():
		return s.canceledCompletion(comp)
	default:
		return s.gitFailed(comp, "prepare the work dir", err)
	}
	s.emitStatus(fmt.Sprintf("work dir ready on branch %s", work.Branch))

	spec := s.pilotSpec(work.Dir)
	if spec.SessionID != "" && cl.FreshPrompt != "" && !(work.Kept && madeHere(work.Dir, spec.SessionID)) {
		// The session was made on another rover (or in a work dir since
		// removed): nothing here can resume it.
		s.log.Info("the session to resume is not on this rover: starting a fresh one with the whole conversation", "session", spec.SessionID)
		s.emitStatus("session " + spec.SessionID + " is not on this rover: starting a fresh session with the whole conversation")
		spec.SessionID, spec.Prompt = "", cl.FreshPrompt
	}
	if spec.SessionID != "" {
		spec.ThreadUsage = threadUsage(work.Dir, spec.SessionID)
	}
	res := s.r.cfg.RunPilot(pilotCtx, spec, s.emit)
	if res.SessionID != "" {
		if err := recordSession(work.Dir, res.SessionID, res.ThreadUsage); err != nil {
			s.log.Warn("cannot record the pilot's session: a follow-up here will start afresh", "err", err)
		}
	}
	comp.FinalMessage, comp.SessionID, comp.Usage = res.FinalMessage, res.SessionID, res.Usage
	switch {
	case s.gone() || ctx.Err() != nil:
		return comp // not reported
	case s.canceled.Load():
		comp = s.canceledCompletion(comp)
	case res.Failed:
		comp.Status, comp.FailureReason, comp.FailureMessage = wire.RunFailed, res.Reason, res.Message
		s.log.Info("pilot failed", "reason", res.Reason, "message", res.Message)
		if res.Reason != pilot.ReasonModelError { // the pilot sent that one as an event already
			s.emitError(res.Message)
		}
	}

	succeeded := comp.Status == wire.RunSucceeded
	art, err := work.Finish(ctx, commitMessage(cl), succeeded)
	if art.HeadCommit != "" {
		comp.Artifact = &art
	}
	if err != nil {
		if !succeeded {
			s.emitError("collect the work: " + err.Error())
			return comp
		}
		return s.gitFailed(comp, "collect the work", err)
	}
	if art.Pushed {
		s.emitStatus(fmt.Sprintf("pushed %s at %s", art.Branch, shortHash(art.HeadCommit)))
	}
	return comp
}

func (s *session) canceledCompletion(comp wire.Completion) wire.Completion {
	comp.Status, comp.FailureReason = wire.RunCanceled, ReasonCanceled
	comp.FailureMessage = "canceled on request"
	return comp
}

func (s *session) gitFailed(comp wire.Completion, what string, err error) wire.Completion {
	msg := what + ": " + err.Error()
	s.log.Warn("git failed", "err", msg)
	s.emitError(msg)
	comp.Status, comp.FailureReason, comp.FailureMessage = wire.RunFailed, ReasonGitFailed, msg
	return comp
}

func (s *session) pilotSpec(workDir string) pilot.Spec {
	cl := s.claim
	redact := []string{s.r.token()}
	if cl.Repository != nil && cl.Repository.Password != "" {
		redact = append(redact, cl.Repository.Password)
	}
	return pilot.Spec{
		Kind:      cl.Pilot.Kind,
		Settings:  cl.Pilot.Settings,
		Prompt:    cl.Prompt,
		SessionID: cl.SessionID,
		WorkDir:   workDir,
		Env:       pilotEnv(s.r.cfg.Environ),
		Operation: cl.Operation,
		Binary:    s.r.cfg.PilotBinaries[cl.Pilot.Kind],
		Redact:    redact,
	}
}

// pilotEnv is the rover's environment minus UFO's own configuration: the
// rover's token and enrollment code, and, for a rover inside `ufo up` or
// beside a server, the server's (UFO_GITHUB_PRIVATE_KEY, the Slack
// secrets, DATABASE_URL). A pilot runs code from the repository it works
// on; none of that is its business.
func pilotEnv(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "UFO_") || name == "DATABASE_URL" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func commitMessage(cl *wire.Claim) string {
	subject := strings.TrimSpace(cl.Operation.Code + ": " + cl.Operation.Title)
	return fmt.Sprintf("%s\n\nUFO run %s (attempt %d) by pilot %s.\n", subject, cl.RunID, cl.Attempt, cl.Pilot.Name)
}

func shortHash(h string) string { return h[:min(len(h), 12)] }

// emit is the pilot's Emit: it gives the event the next sequence number and
// queues it. It is safe to call from several goroutines.
func (s *session) emit(typ string, data any) {
	raw, err := encode(data)
	if err != nil {
		raw, _ = encode(map[string]string{"message": fmt.Sprintf("the rover could not encode a %s event: %v", typ, err)})
		typ = wire.EventError
	}
	s.queue.add(typ, shrinkEvent(typ, raw), time.Now().UTC())
}

func (s *session) emitStatus(msg string) { s.emit(wire.EventStatus, map[string]string{"message": msg}) }
func (s *session) emitError(msg string)  { s.emit(wire.EventError, map[string]string{"message": msg}) }

// sendEvents sends queued events every flush interval, or at once when a
// batch is full, until closing is closed and the queue is empty. While the
// server is unreachable it retries with backoff and the queue fills. It
// reports whether everything was sent.
func (s *session) sendEvents(ctx context.Context, closing <-chan struct{}) bool {
	tick := time.NewTicker(s.r.cfg.FlushInterval)
	defer tick.Stop()
	bo := s.r.newBackoff()
	for {
		done := false
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		case <-s.queue.full:
		case <-closing:
			done = true
		}
		if !s.flush(ctx, bo) {
			return false
		}
		if done {
			return true
		}
	}
}

// flush sends everything queued, in batches; false when the run is gone or
// ctx ended.
func (s *session) flush(ctx context.Context, bo *backoff) bool {
	for {
		if s.gone() {
			return false
		}
		batch := s.queue.take(batchSize, maxBatchBytes)
		if len(batch) == 0 {
			return true
		}
		ack, err := s.runCall(ctx, "events", wire.EventBatch{ClaimToken: s.claim.ClaimToken, Events: batch})
		if err == nil {
			s.queue.sent()
			bo.reset()
			s.handleAck(ack)
			continue
		}
		if !s.handleErr(ctx, err) {
			s.queue.unsent()
			return false
		}
		if !transient(err) {
			// A batch the server refuses would block every later one.
			s.log.Error("server refused a batch of events; dropping it", "err", err, "first_seq", batch[0].Seq, "count", len(batch))
			s.queue.sent()
			continue
		}
		s.queue.unsent()
		d := bo.next()
		s.log.Warn("sending events failed; retrying", "err", err, "retry_in", d, "queued", s.queue.len())
		if !sleep(ctx, d) {
			return false
		}
	}
}

// leaseLength is the run's lease as the claim, or else the connect answer,
// announced it.
func (s *session) leaseLength() time.Duration {
	secs := s.claim.LeaseSeconds
	if secs <= 0 {
		secs = s.r.conn.LeaseSeconds
	}
	if secs <= 0 {
		return defaultLease
	}
	return time.Duration(secs) * time.Second
}

// heartbeatEvery is min(the server's heartbeat, a third of the lease).
func (s *session) heartbeatEvery() time.Duration {
	hb := 10 * time.Second
	if secs := s.r.conn.HeartbeatSeconds; secs > 0 {
		hb = min(hb, time.Duration(secs)*time.Second)
	}
	return min(hb, s.leaseLength()/3)
}

// leaseClock is the rover's own account of a run's lease. The server
// extends the lease by its length on every start, heartbeat and events call
// it accepts; the clock counts from when the call was sent, no later than
// the server received it, so it runs out no later than the server's lease.
type leaseClock struct {
	length time.Duration
	mu     sync.Mutex
	ends   time.Time
}

// renew extends the lease by its length from sent, when that is later than
// what it holds (calls may answer out of order).
func (l *leaseClock) renew(sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ends := sent.Add(l.length); ends.After(l.ends) {
		l.ends = ends
	}
}

func (l *leaseClock) left() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Until(l.ends)
}

// watchLease drops the run when its lease runs out without a call the
// server accepted, until ctx ends. A rover cut off from the server gets no
// 409 to tell it: by then the server may have requeued the run for another
// rover, and this one must neither push the branch nor report.
func (s *session) watchLease(ctx context.Context) {
	for {
		left := s.lease.left()
		if left <= 0 {
			s.loseLease(fmt.Errorf("no call reached the server for %v, the length of the lease", s.lease.length))
			return
		}
		t := time.NewTimer(left)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// loseLease stops the pilot and everything the run does: the run is
// dropped without a completion.
func (s *session) loseLease(err error) {
	if !s.lost.Swap(true) {
		s.log.Warn("lease lost: stopping the pilot and dropping the run", "err", err)
	}
	s.dropRun(errLeaseLost)
}

// heartbeat extends the lease until stop is closed; its answer may ask to
// cancel the run, or tell that the lease is lost.
func (s *session) heartbeat(ctx context.Context, stop <-chan struct{}) {
	tick := time.NewTicker(s.heartbeatEvery())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-tick.C:
		}
		ack, err := s.runCall(ctx, "heartbeat", wire.RunCall{ClaimToken: s.claim.ClaimToken})
		if err != nil {
			if !s.handleErr(ctx, err) {
				return
			}
			s.log.Warn("heartbeat failed", "err", err)
			continue
		}
		s.handleAck(ack)
	}
}

func (s *session) handleAck(ack wire.RunAck) {
	if ack.Cancel && !s.canceled.Swap(true) {
		s.log.Info("cancel requested: stopping the pilot")
		s.stopPilot(errCancelRequested)
	}
}

// handleErr records what a failed per-run call means for the run; false
// when the run cannot go on (lease lost, token revoked, ctx ended).
func (s *session) handleErr(ctx context.Context, err error) bool {
	switch {
	case ctx.Err() != nil:
		return false
	case errors.Is(err, ErrRevoked):
		if !s.revoked.Swap(true) {
			s.log.Error("the server refused the rover's token: stopping the run", "err", err)
		}
		s.dropRun(ErrRevoked)
		return false
	case leaseLost(err):
		s.loseLease(err)
		return false
	}
	return true
}

// runCall makes one per-run call; a start, heartbeat or events call the
// server accepts renews the lease.
func (s *session) runCall(ctx context.Context, action string, body any) (wire.RunAck, error) {
	sent := time.Now()
	ack, err := s.r.c.runCall(ctx, s.claim.RunID, action, body)
	if err == nil && action != "complete" {
		s.lease.renew(sent)
	}
	return ack, err
}

// callRetry makes a per-run call, retrying while the server is unreachable.
func (s *session) callRetry(ctx context.Context, action string, body any) (wire.RunAck, error) {
	bo := s.r.newBackoff()
	for {
		ack, err := s.runCall(ctx, action, body)
		if err == nil {
			return ack, nil
		}
		if !s.handleErr(ctx, err) {
			return ack, err
		}
		if !transient(err) {
			s.log.Error("server refused "+action, "err", err)
			return ack, err
		}
		d := bo.next()
		s.log.Warn(action+" failed; retrying", "err", err, "retry_in", d)
		if !sleep(ctx, d) {
			return ack, ctx.Err()
		}
	}
}

// complete reports the run's outcome, retrying until the server answers;
// false when it was not recorded.
func (s *session) complete(ctx context.Context, comp wire.Completion) bool {
	fitCompletion(&comp)
	if _, err := s.callRetry(ctx, "complete", comp); err != nil {
		return false
	}
	s.log.Info("run completed", "status", comp.Status, "reason", comp.FailureReason, "dropped_events", s.queue.droppedTotal())
	return true
}

// The sessions a pilot made in an operation's work dir on this rover are
// listed in a file beside it, one id a line, with (after a tab) the usage
// summed over the session's thread where the pilot reports that (codex):
// a follow-up resumes its session only where it was made (claude --resume
// needs the same cwd and config, codex its CODEX_HOME), and its own usage
// is what it adds to the thread's.
func sessionsFile(workDir string) string { return workDir + ".sessions" }

// sessionLines calls f with each recorded session and its usage, oldest
// first.
func sessionLines(workDir string, f func(session string, usage *wire.Usage)) {
	b, err := os.ReadFile(sessionsFile(workDir))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		id, raw, _ := strings.Cut(line, "\t")
		if id == "" {
			continue
		}
		var u *wire.Usage
		if raw != "" && json.Unmarshal([]byte(raw), &u) != nil {
			u = nil
		}
		f(id, u)
	}
}

// madeHere reports whether session was made in workDir on this rover.
func madeHere(workDir, session string) bool {
	found := false
	sessionLines(workDir, func(id string, _ *wire.Usage) { found = found || id == session })
	return found
}

// threadUsage is the last usage recorded for session in workDir, if any.
func threadUsage(workDir, session string) *wire.Usage {
	var last *wire.Usage
	sessionLines(workDir, func(id string, u *wire.Usage) {
		if id == session && u != nil {
			last = u
		}
	})
	return last
}

// recordSession adds session, with its thread's usage when known, to
// workDir's list.
func recordSession(workDir, session string, usage *wire.Usage) error {
	if usage == nil && madeHere(workDir, session) {
		return nil
	}
	line := session
	if usage != nil {
		b, err := json.Marshal(usage)
		if err != nil {
			return err
		}
		line += "\t" + string(b)
	}
	f, err := os.OpenFile(sessionsFile(workDir), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	return errors.Join(err, f.Close())
}
