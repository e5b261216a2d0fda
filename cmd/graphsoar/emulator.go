package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graphfake"
)

func newEmulatorCmd(s stdio) *cobra.Command {
	var (
		listen, seedDir, rateLimit, actionRateLimit string
		indicatorRateLimits                         []string
		opts                                        graphfake.Options
		noSeed                                      bool
	)
	cmd := &cobra.Command{
		Use:   "graph-emulator",
		Short: "Serve an emulation of the Microsoft Graph security APIs graphsoar calls",
		Long: `Serve the parts of Microsoft Graph graphsoar calls (v1.0 security incidents,
comments, beta securityActions) with Graph's behaviour: its JSON error body,
401 without a bearer token (unless --open), camelCase enum validation, paging,
$filter on lastUpdateDateTime. Faults and latency can be injected. It is seeded
with the sample incidents unless --seed names a directory of JSON files (bare
incidents or event envelopes) or --no-seed is given.

The same address serves Defender for Endpoint's indicators API (the default
block_file_hash backend): POST /api/indicators (submit or update), GET
/api/indicators (active indicators; $filter, $top, $skip), GET and DELETE
/api/indicators/{id}; point --defender-url at the emulator. Defender's
per-tenant limits apply: 100 calls a minute and 1,500 an hour (change them with
--indicator-rate-limit, or switch them off with --indicator-rate-limit 0) and
15,000 active indicators.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			for flag, spec := range map[string]struct {
				value  string
				prefix string
			}{"--rate-limit": {rateLimit, ""}, "--action-rate-limit": {actionRateLimit, "/beta/security/securityActions"}} {
				if spec.value == "" {
					continue
				}
				l, perr := parseRateLimit(spec.value)
				if perr != nil {
					return &exitError{code: 2, err: fmt.Errorf("%s: %w", flag, perr)}
				}
				l.PathPrefix = spec.prefix
				opts.RateLimits = append(opts.RateLimits, l)
			}
			if err := setIndicatorRateLimits(&opts, indicatorRateLimits); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--indicator-rate-limit: %w", err)}
			}
			srv := graphfake.New(opts)
			switch {
			case seedDir != "":
				err = srv.SeedDir(seedDir)
			case !noSeed:
				err = srv.SeedFS(fixtures.FS())
			}
			if err != nil {
				return fmt.Errorf("seed: %w", err)
			}
			url, stop, err := srv.Start(listen)
			if err != nil {
				return err
			}
			mode := "bearer token required"
			if opts.Open {
				mode = "open"
			}
			fmt.Fprintf(s.err, "Graph emulator on %s (%d incidents, %s); point graphsoar at it with --graph-url %s\n",
				url, len(srv.Incidents()), mode, url)
			<-cmd.Context().Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return stop(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8081", "address to serve on")
	f.StringVar(&seedDir, "seed", "", "directory of incident JSON files to seed (default: the sample incidents)")
	f.BoolVar(&noSeed, "no-seed", false, "start without incidents")
	f.BoolVar(&opts.Open, "open", false, "accept requests without a bearer token")
	f.DurationVar(&opts.Latency, "latency", 0, "delay every response by this long")
	f.Float64Var(&opts.ThrottleRate, "throttle-rate", 0, "share (0..1) of requests answered 429")
	f.DurationVar(&opts.ThrottleRetryAfter, "throttle-retry-after", time.Second, "Retry-After of those 429s")
	f.Float64Var(&opts.ServerErrorRate, "error-rate", 0, "share (0..1) of requests answered 503")
	f.Uint64Var(&opts.Seed, "fault-seed", 1, "seed of the random faults")
	f.StringVar(&rateLimit, "rate-limit", "", "per-tenant request limit, N/DURATION (e.g. 600/1m); excess gets 429")
	f.StringVar(&actionRateLimit, "action-rate-limit", "", "per-tenant limit of security-action calls, N/DURATION (Graph: 150/1m)")
	f.StringSliceVar(&indicatorRateLimits, "indicator-rate-limit", nil,
		"per-tenant limit of /api/indicators calls, N/DURATION, repeatable (default Defender's 100/1m and 1500/1h; 0 switches them off)")
	return cmd
}

// setIndicatorRateLimits applies the --indicator-rate-limit values to opts: none keeps
// Defender's defaults, a single "0" switches the limits off, otherwise each N/DURATION
// is one limit and together they replace the defaults.
func setIndicatorRateLimits(opts *graphfake.Options, specs []string) error {
	if len(specs) == 1 && strings.TrimSpace(specs[0]) == "0" {
		opts.NoIndicatorRateLimits = true
		return nil
	}
	for _, spec := range specs {
		l, err := parseRateLimit(strings.TrimSpace(spec))
		if err != nil {
			return fmt.Errorf("%w (or 0 for no limit)", err)
		}
		opts.IndicatorRateLimits = append(opts.IndicatorRateLimits, l)
	}
	return nil
}

// parseRateLimit reads "N/DURATION".
func parseRateLimit(s string) (graphfake.RateLimit, error) {
	n, d, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(n)
	if !ok || err != nil || count <= 0 {
		return graphfake.RateLimit{}, fmt.Errorf("%q: want N/DURATION such as 150/1m", s)
	}
	window, err := time.ParseDuration(d)
	if err != nil || window <= 0 {
		return graphfake.RateLimit{}, fmt.Errorf("%q: want N/DURATION such as 150/1m", s)
	}
	return graphfake.RateLimit{Requests: count, Window: window}, nil
}
