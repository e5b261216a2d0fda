package ui

import (
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/graphsoar/graphsoar/internal/worker"
)

// maxRecords bounds the audit records kept for one event (a retried event
// adds a record per attempt).
const maxRecords = 100

// eventView is one event as the page shows it: the rules that matched it
// and its audit records (each planned action with its result), in the order
// they were stored.
type eventView struct {
	Event     string              `json:"event"`
	Tenant    string              `json:"tenant"`
	Incident  string              `json:"incident"`
	EventType string              `json:"eventType"`
	Time      time.Time           `json:"time"` // of its first record
	Rules     []string            `json:"rules"`
	Records   []worker.AuditEvent `json:"records"`
}

// feed holds the recent events, grouped from the audit records, and counts
// the events each rule matched. It is safe for concurrent use.
//
// A match is counted the first time an audit record names a rule for an
// event, except rule errors and the records of an approval decision (those
// follow a match counted when the action was held). Counts cover the audit
// records the page read: its backlog and everything since it started.
type feed struct {
	mu      sync.Mutex
	max     int
	order   []string // event keys, oldest first
	events  map[string]*eventView
	matches map[string]int
	seq     uint64 // the audit stream sequence of the last record read
}

func newFeed(maxEvents int) *feed {
	return &feed{max: maxEvents, events: map[string]*eventView{}, matches: map[string]int{}}
}

// add files one audit record, stored at seq, under its event and returns
// the event's view as JSON.
func (f *feed) add(seq uint64, a worker.AuditEvent) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq = max(f.seq, seq)
	key := a.EventID
	if key == "" {
		key = "incident " + a.Tenant + "/" + a.Incident
	}
	v, ok := f.events[key]
	if !ok {
		v = &eventView{Event: a.EventID, Tenant: a.Tenant, Incident: a.Incident, EventType: a.EventType, Time: a.Time,
			Rules: []string{}}
		f.events[key] = v
		f.order = append(f.order, key)
		if len(f.order) > f.max {
			delete(f.events, f.order[0])
			f.order = f.order[1:]
		}
	}
	if len(v.Records) < maxRecords {
		v.Records = append(v.Records, a)
	}
	decision := a.Approval != "" && a.Result != "awaiting_approval"
	if a.Rule != "" && a.Result != "rule_error" && !decision && !slices.Contains(v.Rules, a.Rule) {
		v.Rules = append(v.Rules, a.Rule)
		f.matches[a.Rule]++
	}
	b, _ := json.Marshal(v) // a view of decoded records always encodes
	return b
}

// last is the audit stream sequence of the last record read (0: none).
func (f *feed) last() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seq
}

// snapshot returns every kept event as JSON, oldest first.
func (f *feed) snapshot() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([][]byte, 0, len(f.order))
	for _, k := range f.order {
		b, _ := json.Marshal(f.events[k])
		out = append(out, b)
	}
	return out
}

// views returns a copy of the kept events, oldest first.
func (f *feed) views() []eventView {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]eventView, 0, len(f.order))
	for _, k := range f.order {
		v := *f.events[k]
		v.Rules = append([]string(nil), v.Rules...)
		v.Records = append([]worker.AuditEvent(nil), v.Records...)
		out = append(out, v)
	}
	return out
}

// matchCounts returns the events each rule matched.
func (f *feed) matchCounts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.matches)
}
