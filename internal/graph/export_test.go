package graph

import "time"

// ParseRetryAfter exposes parseRetryAfter to the black-box tests.
func ParseRetryAfter(v string, now time.Time) time.Duration { return parseRetryAfter(v, now) }
