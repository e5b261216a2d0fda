package approval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/graphsoar/graphsoar/internal/kv"
)

// maxResends bounds how often a sweep publishes one decision again; the
// waits between them double from republishAfter. A decision still not
// carried out after that (its handling keeps failing: it is in the
// dead-letter stream) stays visible in approvals list.
const maxResends = 6

// Sweep expires the pending actions whose deadline passed, and publishes
// again a decision the worker has not carried out republishAfter after it
// was made (a publish lost to a crash or an outage), waiting twice as long
// before each further resend, at most maxResends times. Every replica may
// sweep at once: a compare-and-set decides each expiry and each resend
// once, and the worker carries out a decision once however often it is told.
func (s *Store) Sweep(ctx context.Context, republishAfter time.Duration) (expired, republished int, err error) {
	recs, err := s.List(ctx)
	if err != nil {
		return 0, 0, err
	}
	var errs []error
	for _, rec := range recs {
		now := s.now()
		switch {
		case rec.Status == Pending && now.After(rec.Deadline):
			_, err := s.decide(ctx, rec.ID, Expired, "graphsoar")
			switch {
			case err == nil:
				expired++
			case !errors.Is(err, ErrDecided):
				errs = append(errs, err)
			}
		case rec.Status != Pending && !rec.Done && rec.Resent < maxResends &&
			now.Sub(lastSent(rec)) >= republishAfter<<rec.Resent:
			sent, err := s.resend(ctx, rec.ID)
			if err != nil {
				errs = append(errs, err)
			}
			if sent {
				republished++
			}
		}
	}
	return expired, republished, errors.Join(errs...)
}

func lastSent(rec Record) time.Time {
	if rec.ResentAt.After(rec.DecidedAt) {
		return rec.ResentAt
	}
	return rec.DecidedAt
}

// resend counts a resend on the record (compare-and-set: one replica wins)
// and publishes the decision again.
func (s *Store) resend(ctx context.Context, id string) (bool, error) {
	rec, rev, err := s.Get(ctx, id)
	if err != nil || rec.Done || rec.Status == Pending {
		return false, err
	}
	rec.Resent, rec.ResentAt = rec.Resent+1, s.now()
	b, err := json.Marshal(rec)
	if err != nil {
		return false, err
	}
	if _, err := s.kv.Update(ctx, id, b, rev); errors.Is(err, kv.ErrConflict) {
		return false, nil // another replica resent it, or the worker finished it
	} else if err != nil {
		return false, fmt.Errorf("approval %s: %w", id, err)
	}
	return true, s.publish(ctx, rec, ":resend"+strconv.Itoa(rec.Resent))
}

// RunSweeper sweeps every interval until ctx ends, and returns then.
func (s *Store) RunSweeper(ctx context.Context, every, republishAfter time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		expired, republished, err := s.Sweep(ctx, republishAfter)
		if err != nil && ctx.Err() == nil {
			log.Warn("approvals sweep", "err", fmt.Errorf("sweep approvals: %w", err))
		}
		if expired+republished > 0 {
			log.Info("approvals swept", "expired", expired, "republished", republished)
		}
	}
}
