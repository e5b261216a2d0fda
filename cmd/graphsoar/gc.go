package main

import "runtime/debug"

// defaultGCPercent is the worker's garbage-collection target when GOGC is not
// set: decoding incidents allocates a few kilobytes an event, and at 200 the
// worker spends about a tenth less CPU on collection for about 50 MB more
// heap (docs/BENCHMARKS.md). GOGC, and GOMEMLIMIT in containers, override it.
const defaultGCPercent = 200

// tuneGC applies defaultGCPercent unless the user set GOGC.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
