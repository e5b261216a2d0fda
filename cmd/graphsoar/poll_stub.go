package main

import (
	"context"
	"errors"

	"github.com/graphsoar/graphsoar/internal/config"
)

// runPoller runs the producer (issue 5).
func runPoller(ctx context.Context, cfg config.Config, sv *services) error {
	<-ctx.Done()
	return errors.New("the producer is not built yet")
}
