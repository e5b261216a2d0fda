package approval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"
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
		case resendDue(rec, now, republishAfter):
			sent, err := s.resend(ctx, rec.ID, republishAfter)
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

// resendDue reports whether a decision not carried out is to be sent
// again: republishAfter after it was made, then after twice as long as the
// wait before, at most maxResends times.
func resendDue(rec Record, now time.Time, republishAfter time.Duration) bool {
	last := rec.DecidedAt
	if rec.ResentAt.After(last) {
		last = rec.ResentAt
	}
	return rec.Status != Pending && !rec.Done && rec.Resent < maxResends && now.Sub(last) >= republishAfter<<rec.Resent
}

// resend counts a resend on the record, when it is still due (compare-and-
// set: of replicas sweeping at once, one resends), and publishes the
// decision again.
func (s *Store) resend(ctx context.Context, id string, republishAfter time.Duration) (bool, error) {
	rec, due, err := s.modify(ctx, id, func(rec *Record) (bool, error) {
		now := s.now()
		if !resendDue(*rec, now, republishAfter) {
			return false, nil
		}
		rec.Resent, rec.ResentAt = rec.Resent+1, now
		return true, nil
	})
	if err != nil || !due {
		return false, err
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
