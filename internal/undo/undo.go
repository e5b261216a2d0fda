package undo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/kv"
	"github.com/graphsoar/graphsoar/internal/worker"
)

// Graph is what undo asks of Microsoft Graph and Defender (*graph.Client).
type Graph interface {
	GetIncident(ctx context.Context, tenant, id string) (*incident.Incident, graph.Info, error)
	UpdateIncident(ctx context.Context, tenant, id string, p actions.Patch) (*incident.Incident, graph.Info, error)
	AddComment(ctx context.Context, tenant, id, text string) ([]*incident.Comment, graph.Info, error)
	FindIndicator(ctx context.Context, tenant, value string) (*graph.Indicator, error)
	Unblock(ctx context.Context, tenant string, b graph.Block) (graph.Info, error)
}

// Options configure an Undoer.
type Options struct {
	Graph Graph
	// Audit stores undo's audit records; not used by a dry run.
	Audit broker.Publisher
	// Effects is the worker's idempotency bucket (graphsoar-effects): once
	// a block is gone from Defender, its record there is deleted, so that a
	// rule can block the hash again in the tenant. Not used by a dry run.
	Effects kv.Store
	// DryRun reads Graph and decides the steps, and writes nothing: not to
	// Graph, not to the audit stream.
	DryRun bool
	// ID names the run in its audit records (worker and event); a time is
	// appended. Default "graphsoar-undo".
	ID string
	// Now is the clock of the audit records. Default time.Now.
	Now func() time.Time
}

// Undoer carries out plans.
type Undoer struct {
	o   Options
	run string
}

// New returns an Undoer; Graph is required, and Audit and Effects unless
// DryRun.
func New(o Options) (*Undoer, error) {
	if o.Graph == nil {
		return nil, errors.New("undo: no Graph client")
	}
	if o.Audit == nil && !o.DryRun {
		return nil, errors.New("undo: no audit publisher")
	}
	if o.Effects == nil && !o.DryRun {
		return nil, errors.New("undo: no idempotency bucket")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ID == "" {
		o.ID = "graphsoar-undo"
	}
	return &Undoer{o: o, run: fmt.Sprintf("%s-%d", o.ID, o.Now().UnixNano())}, nil
}

// Outcome is the undo of a rule on one incident.
type Outcome struct {
	Tenant   string   `json:"tenant"`
	Incident string   `json:"incident"`
	Records  []uint64 `json:"records"`
	// UndoneAt: an earlier run finished the undo of every record, then.
	UndoneAt *time.Time `json:"undoneAt,omitempty"`
	Steps    []Step     `json:"steps"`
	// Error: the incident could not be read, or an audit record could not
	// be stored (the undo of the incident stopped there).
	Error string `json:"error,omitempty"`
}

// Failed reports whether anything of the incident's undo failed.
func (o Outcome) Failed() bool {
	return o.Error != "" || slices.ContainsFunc(o.Steps, func(s Step) bool { return s.Result == Failed })
}

// Undo carries out one plan: it reads the incident, decides the steps, and
// (unless a dry run) sends one PATCH for the properties and tags, deletes
// the indicators and their idempotency records, then posts the correction
// comment, auditing each step after it is done. The correction comment,
// whose audit record closes the undo, is posted only when no step failed.
func (u *Undoer) Undo(ctx context.Context, p Plan) Outcome {
	out := Outcome{Tenant: p.Tenant, Incident: p.Incident, Records: p.Records, Steps: []Step{}}
	if out.Records == nil {
		out.Records = []uint64{}
	}
	if len(p.Records) == 0 {
		at := p.UndoneAt
		out.UndoneAt = &at
		return out
	}
	cur, _, err := u.o.Graph.GetIncident(ctx, p.Tenant, p.Incident)
	if err != nil {
		out.Error = fmt.Sprintf("get incident %s: %v", p.Incident, err)
		return out
	}
	steps := u.decide(ctx, p, cur)
	if u.o.DryRun {
		out.Steps = append(steps, decideComment(p, steps, cur))
		return out
	}
	out.Steps = steps
	u.patch(ctx, p, cur, steps)
	if err := u.audit(ctx, p, cur, steps, func(s Step) bool { return s.Action == ActionPatch || s.Action == ActionTag }); err != nil {
		out.Error = err.Error()
		return out
	}
	for i := range steps {
		if steps[i].Action != ActionBlock {
			continue
		}
		u.unblock(ctx, p, &steps[i])
		if err := u.audit(ctx, p, cur, steps[i:i+1], nil); err != nil {
			out.Error = err.Error()
			return out
		}
	}
	c := decideComment(p, steps, cur)
	if c.Result == Planned {
		_, c.info, err = u.o.Graph.AddComment(ctx, p.Tenant, p.Incident, c.text)
		c.done(err)
		c.complete = err == nil
	}
	out.Steps = append(out.Steps, c)
	if err := u.audit(ctx, p, cur, []Step{c}, nil); err != nil {
		out.Error = err.Error()
	}
	return out
}

// decide makes the steps of a plan on the incident as Graph shows it now
// (an indicator is looked up by its hash), all but the correction comment.
func (u *Undoer) decide(ctx context.Context, p Plan, cur *incident.Incident) []Step {
	var steps []Step
	step := func(key string, decide func() Step) {
		if r, ok := p.Earlier[key]; ok {
			steps = append(steps, earlierStep(r))
			return
		}
		steps = append(steps, decide())
	}
	for _, g := range p.Groups {
		step(g.Key, func() Step { return decideGroup(g, cur) })
	}
	for _, r := range p.Unknown {
		steps = append(steps, unknownStep(r))
	}
	if len(p.Tags) > 0 {
		step(KeyTags, func() Step { return decideTags(p.Tags, cur) })
	}
	for _, b := range p.Blocks {
		step("block:"+b.Hash, func() Step {
			if b.Backend == string(graph.BlockSecurityActions) {
				s := decideSecurityAction(b)
				if s.Result == Planned {
					s.effectKey = actions.BlockEffectKey(p.Tenant, b.Hash)
				}
				return s
			}
			found, err := u.o.Graph.FindIndicator(ctx, p.Tenant, b.Hash)
			if err != nil {
				return Step{Action: ActionBlock, Key: "block:" + b.Hash, hash: b.Hash, Detail: "delete the indicator of " + b.Hash,
					Result: Failed, Reason: fmt.Sprintf("find indicator: %v", err)}
			}
			s := decideIndicator(b, found, p.Rule)
			if s.Result == Planned || found == nil {
				// Gone already, perhaps deleted by a run that stopped
				// before clearing the record: clear it now.
				s.effectKey = actions.BlockEffectKey(p.Tenant, b.Hash)
			}
			return s
		})
	}
	return steps
}

// patch sends the one PATCH of the planned property and tag steps.
func (u *Undoer) patch(ctx context.Context, p Plan, cur *incident.Incident, steps []Step) {
	var patch actions.Patch
	var planned []*Step
	for i := range steps {
		s := &steps[i]
		if s.Result != Planned || (s.Action != ActionPatch && s.Action != ActionTag) {
			continue
		}
		planned = append(planned, s)
		for f, v := range s.set {
			switch actions.Field(f) {
			case actions.FieldStatus:
				patch.Status = &v
			case actions.FieldClassification:
				patch.Classification = &v
			case actions.FieldDetermination:
				patch.Determination = &v
			case actions.FieldAssignedTo:
				patch.AssignedTo = &v
			}
		}
		if s.Action == ActionTag {
			patch.CustomTags = make([]string, 0, len(cur.CustomTags))
			for _, t := range cur.CustomTags {
				if !slices.Contains(s.remove, t) {
					patch.CustomTags = append(patch.CustomTags, t)
				}
			}
		}
	}
	if len(planned) == 0 {
		return
	}
	_, info, err := u.o.Graph.UpdateIncident(ctx, p.Tenant, p.Incident, patch)
	for _, s := range planned {
		s.info = info
		s.done(err)
	}
}

// unblock deletes the indicator (or cancels the security action) of a
// planned block step, then, the block being gone, clears its idempotency
// record. Failing to clear it fails the step, so that a later run (which
// finds no indicator) clears it.
func (u *Undoer) unblock(ctx context.Context, p Plan, s *Step) {
	if s.Result == Planned {
		var err error
		s.info, err = u.o.Graph.Unblock(ctx, p.Tenant, s.block)
		s.done(err)
	}
	if s.effectKey == "" || s.Result == Failed {
		return
	}
	// The block is gone: clear its record even if the run is being stopped.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	note, err := u.clearEffect(cctx, s.effectKey)
	if err != nil {
		done := "the block is gone"
		if s.Result == Applied {
			done = blockDone(*s)
		}
		s.Result = Failed
		s.Reason = fmt.Sprintf("%s, but its idempotency record %s is not cleared (the worker would not block %s again in this tenant): %v",
			done, s.effectKey, s.hash, err)
		return
	}
	s.Effect = note
}

// done records the outcome of a step's write.
func (s *Step) done(err error) {
	s.GraphStatus, s.DurationMS = s.info.Status, float64(s.info.Duration.Microseconds())/1000
	if err != nil {
		s.Result, s.Reason = Failed, err.Error()
		return
	}
	s.Result = Applied
}

// audit stores the audit records of the steps that keep is true of (nil:
// all): the steps done or decided in this run, not those of earlier runs.
func (u *Undoer) audit(ctx context.Context, p Plan, cur *incident.Incident, steps []Step, keep func(Step) bool) error {
	var msgs []broker.Message
	for _, s := range steps {
		if s.Earlier || (keep != nil && !keep(s)) {
			continue
		}
		b, err := json.Marshal(u.record(p, cur, s))
		if err != nil {
			return fmt.Errorf("encode undo audit record: %w", err)
		}
		msgs = append(msgs, broker.Message{Subject: worker.AuditSubject(p.Tenant, p.Incident), Data: b,
			MsgID: fmt.Sprintf("%s:%s:%s:%s", u.run, p.Tenant, p.Incident, s.Key)})
	}
	if len(msgs) == 0 {
		return nil
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := u.o.Audit.PublishAll(actx, msgs); err != nil {
		return fmt.Errorf("store undo audit records of incident %s (undo stopped there): %w", p.Incident, err)
	}
	return nil
}

// record is the audit record of one step.
func (u *Undoer) record(p Plan, cur *incident.Incident, s Step) worker.AuditEvent {
	params := actions.Params{"step": s.Key, "detail": s.Detail, "records": seqParam(p.Records)}
	if s.hash != "" {
		params["hash"] = s.hash
	}
	if s.Effect != "" {
		params["effectRecord"] = s.Effect
	}
	a := worker.AuditEvent{
		Time: u.o.Now().UTC(), Worker: u.o.ID, Tenant: p.Tenant, Incident: p.Incident, EventID: u.run, EventType: "undo",
		Version: cur.LastUpdateDateTime, Rule: p.Rule, Action: s.Action, Params: params, Result: s.Result,
		GraphRequestID: s.info.RequestID, GraphStatus: s.info.Status, DurationMS: s.DurationMS,
	}
	switch s.Result {
	case Applied:
		a.Changes = s.changes
		if s.Action == ActionTag {
			params["tags"] = s.remove
		}
	case Skipped:
		params["reason"] = s.Reason
	case Failed:
		a.Error = s.Reason
	}
	if s.complete {
		params["complete"] = "true"
	}
	return a
}
