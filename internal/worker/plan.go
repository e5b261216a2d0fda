package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/kv"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// planRecord is the plan of one event, recorded before its first write so
// that a retry carries out what is left of it instead of deciding again on
// an incident graphsoar's own writes changed. The PATCH is desired state
// (it sends only what still differs) and every comment and block has its
// idempotency record, so carrying out the plan again is carrying out what is
// left of it.
type planRecord struct {
	Event string `json:"event"`
	// Version and Fields are the incident the plan was decided on.
	Version time.Time  `json:"version"`
	Fields  planFields `json:"fields"`
	Plan    rules.Plan `json:"plan"`
	rev     uint64
}

// planFields are the incident's properties that rules decide on and that
// only another party (an analyst, Defender) changes besides graphsoar's
// PATCH.
type planFields struct {
	Status         string   `json:"status"`
	Classification string   `json:"classification"`
	Determination  string   `json:"determination"`
	AssignedTo     string   `json:"assignedTo"`
	Severity       string   `json:"severity"`
	CustomTags     []string `json:"customTags"`
}

func fieldsOf(inc *incident.Incident) planFields {
	return planFields{Status: inc.Status, Classification: inc.Classification, Determination: inc.Determination,
		AssignedTo: inc.AssignedTo, Severity: inc.Severity, CustomTags: slices.Clone(inc.CustomTags)}
}

// planKey is the key of an event's plan: plan.<stream>.<sequence>.
func planKey(d *consume.Delivery) string {
	return "plan." + d.Meta.Stream + "." + strconv.FormatUint(d.Seq(), 10)
}

// loadPlan returns the plan recorded for a redelivered event, or nil.
func (w *Worker) loadPlan(ctx context.Context, d *consume.Delivery) (*planRecord, error) {
	if d.Meta.NumDelivered <= 1 {
		return nil, nil
	}
	e, err := w.opts.State.Get(ctx, planKey(d))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, consume.Transient(fmt.Errorf("read the plan of %s: %w", planKey(d), err))
	}
	var rec planRecord
	if err := json.Unmarshal(e.Value, &rec); err != nil {
		return nil, nil // unreadable: decide again
	}
	rec.rev = e.Revision
	return &rec, nil
}

// savePlan records the plan before its first write.
func (w *Worker) savePlan(ctx context.Context, d *consume.Delivery, rec *planRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if rec.rev == 0 {
		rec.rev, err = w.opts.State.Put(ctx, planKey(d), b)
	} else {
		rec.rev, err = w.opts.State.Update(ctx, planKey(d), b, rec.rev)
	}
	if err != nil {
		return consume.Transient(fmt.Errorf("record the plan of %s: %w", planKey(d), err))
	}
	return nil
}

// forgetPlan deletes an event's plan once the event is settled.
func (w *Worker) forgetPlan(ctx context.Context, d *consume.Delivery) {
	_ = w.opts.State.Delete(context.WithoutCancel(ctx), planKey(d), 0)
}

// changedByOthers reports whether someone other than graphsoar changed the
// incident since the plan was decided: its properties are neither as they
// were then nor as the plan's PATCH makes them.
func (rec *planRecord) changedByOthers(fresh *incident.Incident, desired *actions.Desired) bool {
	now := fieldsOf(fresh)
	if sameFields(now, rec.Fields) {
		return false
	}
	// As the plan's PATCH left them?
	want := rec.Fields
	for f, p := range map[actions.Field]*string{actions.FieldStatus: &want.Status, actions.FieldClassification: &want.Classification,
		actions.FieldDetermination: &want.Determination, actions.FieldAssignedTo: &want.AssignedTo} {
		if v, ok := desired.Value(f); ok {
			*p = v
		}
	}
	for _, t := range desired.Tags() {
		if !slices.Contains(want.CustomTags, t) {
			want.CustomTags = append(want.CustomTags, t)
		}
	}
	return !sameFields(now, want)
}

func sameFields(a, b planFields) bool {
	ta, tb := slices.Clone(a.CustomTags), slices.Clone(b.CustomTags)
	slices.Sort(ta)
	slices.Sort(tb)
	return a.Status == b.Status && a.Classification == b.Classification && a.Determination == b.Determination &&
		a.AssignedTo == b.AssignedTo && a.Severity == b.Severity && slices.Equal(ta, tb)
}
