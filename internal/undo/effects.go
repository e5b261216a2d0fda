package undo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/graphsoar/graphsoar/internal/kv"
)

// What clearEffect did with a block's idempotency record (Step.Effect).
const (
	effectCleared = "idempotency record cleared: a rule may block the hash again in this tenant"
	effectNone    = "no idempotency record to clear"
	effectLeft    = "idempotency record left as it is (%s): the worker checks Graph before it blocks again"
)

// clearEffect deletes the idempotency record of a block once the block is
// gone from Defender. The worker writes a hash's block once per tenant: a
// record left "done" would answer "duplicate" to every later rule that blocks
// the hash. Only a done record is deleted, at the revision read; a pending or
// unknown one already makes the worker check Defender before writing.
func (u *Undoer) clearEffect(ctx context.Context, key string) (string, error) {
	for range 3 {
		e, err := u.o.Effects.Get(ctx, key)
		switch {
		case errors.Is(err, kv.ErrNotFound):
			return effectNone, nil
		case err != nil:
			return "", err
		}
		var rec struct {
			State string `json:"state"`
		}
		if err := json.Unmarshal(e.Value, &rec); err != nil {
			return "", fmt.Errorf("read idempotency record %s: %w", key, err)
		}
		if rec.State != "done" {
			return fmt.Sprintf(effectLeft, rec.State), nil
		}
		err = u.o.Effects.Delete(ctx, key, e.Revision)
		if errors.Is(err, kv.ErrConflict) {
			continue // written meanwhile: read it again
		}
		if err != nil {
			return "", err
		}
		return effectCleared, nil
	}
	return "", fmt.Errorf("idempotency record %s: %w three times", key, kv.ErrConflict)
}
