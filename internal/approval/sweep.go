package approval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Sweep expires the pending actions whose deadline passed, and publishes
// again the decisions the worker has not carried out republishAfter after
// they were made (a publish lost to a crash or an outage). Every replica may
// sweep at once: a compare-and-set decides each expiry once, and the worker
// carries out a decision once however often it is told.
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
		case rec.Status != Pending && !rec.Done && now.Sub(rec.DecidedAt) >= republishAfter:
			// Within one duplicate window the stream keeps one copy.
			attempt := ":" + strconv.FormatInt(now.Unix()/int64(max(republishAfter/time.Second, 1)), 10)
			if err := s.publish(ctx, rec, attempt); err != nil {
				errs = append(errs, err)
				continue
			}
			republished++
		}
	}
	return expired, republished, errors.Join(errs...)
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
