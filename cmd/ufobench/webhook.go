package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/ufo-run/ufo/bot/github"
	"github.com/ufo-run/ufo/store"
)

// webhookSecret signs the bench's deliveries.
const webhookSecret = "ufobench webhook secret"

// Delivery i adds repository webhookRepoBase+i to installation
// webhookInstallationBase+i: deliveries of one installation would queue
// behind its row lock, which measures nothing but that lock.
const (
	webhookInstallationBase = 4_000_000
	webhookRepoBase         = 7_000_000
)

// newGitHubApp makes the GitHub App the bench's server mounts. Its API URL
// is a loopback port nothing listens on: the deliveries measured need no
// call to GitHub, and any call fails at once instead of leaving the
// machine.
func (b *bench) newGitHubApp(st *store.Store) (*github.App, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return github.New(github.Config{AppID: 1, PrivateKey: pemKey, WebhookSecret: webhookSecret,
		APIURL: "http://127.0.0.1:9/", Slug: "ufobench", PublicURL: b.base}, st, b.log)
}

// installationRepositories is an installation_repositories delivery as
// GitHub sends it, adding one repository.
func installationRepositories(installationID, repoID int) []byte {
	return fmt.Appendf(nil, `{"action":"added","installation":{"id":%d,"account":{"login":"ufobench","id":1,"type":"Organization"},`+
		`"repository_selection":"selected","app_id":1,"target_type":"Organization","permissions":{"contents":"write","issues":"write","pull_requests":"write"},`+
		`"events":["issues","issue_comment","pull_request"],"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"},`+
		`"repository_selection":"selected","repositories_added":[{"id":%d,"node_id":"R_bench%d","name":"repo-%d","full_name":"ufobench/repo-%d","private":true}],`+
		`"repositories_removed":[],"requester":null,"sender":{"login":"ufobench","id":1,"type":"User"}}`,
		installationID, repoID, repoID, repoID, repoID)
}

// webhook posts cfg.WebhookCount signed deliveries at cfg.WebhookRate per
// second, each on its own schedule (open loop), times each answer, then
// waits for the worker to process them and checks each was processed once.
// Beside it: a durable one-row INSERT at the same rate, the least an
// acknowledgement that survives a crash costs.
func (b *bench) webhook(ctx context.Context) ([]Figure, error) {
	n, rate := b.cfg.WebhookCount, b.cfg.WebhookRate
	ceiling, err := b.insertAtRate(ctx, n, rate)
	if err != nil {
		return nil, fmt.Errorf("ceiling: %w", err)
	}
	// The first tenth of the deliveries is an untimed warm-up, as the
	// server's connections open and plan their statements: in a short run
	// those first answers alone made the p99.
	warm := max(n/10, 50)
	total := warm + n
	bodies := make([][]byte, total)
	sigs := make([]string, total)
	for i := range total {
		bodies[i] = installationRepositories(webhookInstallationBase+i, webhookRepoBase+i)
		mac := hmac.New(sha256.New, []byte(webhookSecret))
		mac.Write(bodies[i])
		sigs[i] = "sha256=" + hex.EncodeToString(mac.Sum(nil))
	}
	tr := newTransport()
	tr.MaxIdleConnsPerHost = 200
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	deliver := func(i int) error {
		if err := postDelivery(ctx, hc, b.base, fmt.Sprintf("ufobench-%d", i), bodies[i], sigs[i]); err != nil {
			return fmt.Errorf("delivery %d: %w", i, err)
		}
		return nil
	}
	if _, err := atRate(warm, rate, deliver); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	ws, err := b.sampleWaits(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	lat, err := atRate(n, rate, func(i int) error { return deliver(warm + i) })
	sent := time.Since(start)
	sending := ws.summary()
	if err != nil {
		return nil, err
	}
	if ws, err = b.sampleWaits(ctx); err != nil {
		return nil, err
	}
	processed, err := b.waitDeliveries(ctx, total)
	waits := ws.summary()
	if err != nil {
		return nil, err
	}
	note := fmt.Sprintf("%d signed installation_repositories deliveries sent at %d/s (took %s; %s), each answered 202, after %d untimed; "+
		"all %d processed exactly once (one attempt each, one repository each), the last %s after the last answer (%s); "+
		"ceiling: a durable one-row INSERT at the same rate",
		n, rate, sent.Round(time.Millisecond), sending, warm, total, processed.Round(time.Millisecond), waits)
	return []Figure{
		absolute("webhook", "5 webhook acknowledgement p50", "ms", ms(percentile(lat, 50)), ptr(ms(percentile(ceiling, 50))), 0, ""),
		absolute("webhook", "5 webhook acknowledgement p99", "ms", ms(percentile(lat, 99)), ptr(ms(percentile(ceiling, 99))), 20, note),
	}, nil
}

func postDelivery(ctx context.Context, hc *http.Client, base, id string, body []byte, sig string) error {
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/github/webhook", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/ufobench")
	req.Header.Set("X-GitHub-Event", "installation_repositories")
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", sig)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	return nil
}

// waitDeliveries waits until the worker processed all n deliveries and
// checks that each was processed once: its job done at the first attempt,
// its repository recorded once. It returns how long it waited.
func (b *bench) waitDeliveries(ctx context.Context, n int) (time.Duration, error) {
	t0 := time.Now()
	for {
		var done, failed, again, repos int
		err := b.st.Pool().QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE status = 'done'),
			count(*) FILTER (WHERE status = 'failed'),
			count(*) FILTER (WHERE attempts > 1),
			(SELECT count(*) FROM github_repositories WHERE installation_id >= $2 AND id >= $3)
			FROM jobs WHERE kind = $1 AND key LIKE 'ufobench-%'`, github.KindDelivery, webhookInstallationBase, webhookRepoBase).Scan(&done, &failed, &again, &repos)
		if err != nil {
			return 0, err
		}
		switch {
		case failed > 0:
			return 0, fmt.Errorf("%d deliveries failed", failed)
		case done == n:
			if again > 0 || repos != n {
				return 0, fmt.Errorf("%d deliveries processed: %d needed more than one attempt, %d repositories recorded (want %d)", n, again, repos, n)
			}
			return time.Since(t0), nil
		case time.Since(t0) > 2*time.Minute:
			return 0, fmt.Errorf("%d of %d deliveries processed after 2 minutes", done, n)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// insertAtRate times n durable one-row INSERT transactions started at rate
// per second, each on its own schedule, on a pool of connections.
func (b *bench) insertAtRate(ctx context.Context, n, rate int) ([]time.Duration, error) {
	pool := b.st.Pool()
	if _, err := pool.Exec(ctx, `CREATE TABLE ufobench_acks (id bigint PRIMARY KEY, body text NOT NULL)`); err != nil {
		return nil, err
	}
	defer pool.Exec(context.Background(), "DROP TABLE ufobench_acks")
	body := string(installationRepositories(webhookInstallationBase, webhookRepoBase))
	return atRate(n, rate, func(i int) error {
		_, err := pool.Exec(ctx, "INSERT INTO ufobench_acks (id, body) VALUES ($1, $2)", i, body)
		return err
	})
}

// atRate starts do(0) … do(n-1) at rate per second, each on its own
// schedule whether or not the earlier ones have answered (an open loop,
// so a slow answer cannot hold the next request back), and returns how
// long each took, or the first error.
func atRate(n, rate int, do func(i int) error) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	gap := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * gap)); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() {
			t0 := time.Now()
			errs[i] = do(i)
			lat[i] = time.Since(t0)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return lat, nil
}
