package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// applyRequest records, in the transaction of its effect, that the request
// with this key (OperationInput.Once and the like) is applied, with target
// the id of what it makes ("" for none). When a committed transaction
// applied it before, it answers applied and that one's target, and the
// caller must do nothing more: a transaction with the same key under way
// makes this wait for its end.
func applyRequest(ctx context.Context, tx querier, fleetID, key, target string) (prior string, applied bool, err error) {
	var t *string
	if target != "" {
		t = &target
	}
	var k string
	err = tx.QueryRow(ctx, q("ApplyRequest"), fleetID, key, t).Scan(&k)
	if err == nil {
		return "", false, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", false, err
	}
	// A statement of its own: it sees the row that made the insert stop.
	var found *string
	if err := tx.QueryRow(ctx, q("FindRequest"), fleetID, key).Scan(&found); err != nil {
		return "", false, err
	}
	if found != nil {
		prior = *found
	}
	return prior, true, nil
}
