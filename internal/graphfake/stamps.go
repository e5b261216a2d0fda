package graphfake

import "time"

// stampLayout is how Graph writes DateTimeOffset values: UTC, seven fractional digits.
const stampLayout = "2006-01-02T15:04:05.0000000Z"

// stampTick is the resolution of stampLayout.
const stampTick = 100 * time.Nanosecond

// formatStamp writes t in Graph's format.
func formatStamp(t time.Time) string { return t.UTC().Format(stampLayout) }

// parseStamp reads a DateTimeOffset value of an incident (any RFC 3339 spelling).
func parseStamp(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// nextStamp returns the emulator clock's time for a change to an object whose current
// timestamp is prev, made strictly later than prev and than every stamp handed out
// before, so lastUpdateDateTime moves forward even within one clock tick or under a
// frozen test clock. The caller holds s.mu.
func (s *Server) nextStamp(prev any) time.Time {
	t := s.now().UTC().Truncate(stampTick)
	if !t.After(s.lastStamp) {
		t = s.lastStamp.Add(stampTick)
	}
	if p, ok := parseStamp(prev); ok && !t.After(p) {
		t = p.UTC().Truncate(stampTick).Add(stampTick)
	}
	s.lastStamp = t
	return t
}
