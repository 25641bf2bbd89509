package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/rover/wire"
	"github.com/ufo-run/ufo/store"
)

// storeRuns pushes runs through the throughput figure's lifecycle with
// the store's calls alone, no HTTP: each of the figure's loops creates and
// assigns an operation in a mission of its own, claims a run, starts it,
// stores the no-op pilot's batch of events and completes it with a small
// diff, the calls the server makes for those requests. Its CPU per run,
// beside the ceiling's UPDATE, is what a run costs in the database and
// the store whatever the HTTP side does: the most the figure could reach
// with requests that cost nothing.
func (b *bench) storeRuns(ctx context.Context, d time.Duration) (rate, error) {
	tb, err := b.newFleet(ctx, "store")
	if err != nil {
		return rate{}, err
	}
	rovers, err := b.enroll(ctx, tb, b.cfg.Rovers)
	if err != nil {
		return rate{}, err
	}
	missions := make([]string, len(rovers))
	for i := range missions {
		if missions[i], err = tb.newMission(ctx, b.uniq(), ""); err != nil {
			return rate{}, err
		}
	}
	var batch []store.EventInput
	noopEvents(func(typ string, data any) {
		raw, _ := json.Marshal(data)
		batch = append(batch, store.EventInput{Seq: int64(len(batch) + 1), Type: typ, Data: raw})
	})
	usage, _ := json.Marshal(wire.Usage{InputTokens: 10, OutputTokens: 5})
	const lease = time.Minute
	return loopRate(ctx, len(rovers), d, "a store lifecycle loop", func(ctx context.Context, i int, done func()) error {
		rv, events := rovers[i], append([]store.EventInput(nil), batch...)
		for n := 0; ctx.Err() == nil; n++ {
			if _, err := b.st.CreateOperation(ctx, tb.fleet, store.OperationInput{MissionID: missions[i],
				Title: fmt.Sprintf("store %d", n), AssigneeType: "pilot", AssigneeID: &tb.pilot}); err != nil {
				return err
			}
			// The oldest queued run, perhaps another loop's; none when the
			// other loops took them all.
			cl, err := b.st.Claim(ctx, tb.fleet, rv.ID, []string{app.KindExec}, []string{}, lease)
			if err != nil {
				return err
			}
			if cl == nil {
				continue
			}
			if _, err := b.st.StartRun(ctx, cl.RunID, rv.ID, cl.Token, lease); err != nil {
				return err
			}
			for j := range events {
				events[j].At = time.Now()
			}
			if _, _, err := b.st.AppendEvents(ctx, cl.RunID, rv.ID, cl.Token, lease, events); err != nil {
				return err
			}
			if _, err := b.st.CompleteRun(ctx, cl.RunID, rv.ID, cl.Token, store.Completion{Status: app.RunSucceeded,
				FinalMessage: "done", Usage: usage, Artifact: &app.Artifact{Diff: noopDiff(cl.Operation.Code), Files: 1, Insertions: 1,
					Branch: cl.Operation.Branch, BaseBranch: "main", HeadCommit: noopHead}}); err != nil {
				return err
			}
			done()
		}
		return nil
	})
}
