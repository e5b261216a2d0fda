package actions

import (
	"slices"

	"github.com/graphsoar/graphsoar/internal/incident"
)

// Field is an incident property that actions may change.
type Field string

// The incident properties Graph lets a PATCH change.
const (
	FieldClassification Field = "classification"
	FieldDetermination  Field = "determination"
	FieldStatus         Field = "status"
	FieldAssignedTo     Field = "assignedTo"
	FieldCustomTags     Field = "customTags"
)

// Of returns the value of the property f of inc: "" for customTags (a
// list) and for a name that is not a Field.
func (f Field) Of(inc *incident.Incident) string {
	switch f {
	case FieldClassification:
		return inc.Classification
	case FieldDetermination:
		return inc.Determination
	case FieldStatus:
		return inc.Status
	case FieldAssignedTo:
		return inc.AssignedTo
	}
	return ""
}

// Desired is the incident state that the Patcher actions of one event ask for.
// When two actions set one property, the later one (in rule order) wins and the
// override is recorded in Conflicts.
type Desired struct {
	values    map[Field]string
	by        map[Field]string
	tags      []string
	Conflicts []Conflict
}

// Conflict records that a later rule overrode a property an earlier rule set.
type Conflict struct {
	Field          Field
	Rule, Previous string // the rule that won and the one it overrode
	Value, Was     string
}

func (d *Desired) set(f Field, v, rule string) {
	if d.values == nil {
		d.values, d.by = map[Field]string{}, map[Field]string{}
	}
	if old, ok := d.values[f]; ok && old != v {
		d.Conflicts = append(d.Conflicts, Conflict{Field: f, Rule: rule, Previous: d.by[f], Value: v, Was: old})
	}
	d.values[f], d.by[f] = v, rule
}

func (d *Desired) addTags(tags []string, rule string) {
	for _, t := range tags {
		if !slices.Contains(d.tags, t) {
			d.tags = append(d.tags, t)
		}
	}
	if d.by == nil {
		d.values, d.by = map[Field]string{}, map[Field]string{}
	}
	d.by[FieldCustomTags] = rule
}

// Value returns the value asked for field (not for customTags).
func (d *Desired) Value(f Field) (string, bool) {
	v, ok := d.values[f]
	return v, ok
}

// Tags returns the tags asked to be added.
func (d *Desired) Tags() []string { return d.tags }

// Patch is a minimal PATCH of an incident: nil fields are left alone.
type Patch struct {
	Classification *string
	Determination  *string
	Status         *string
	AssignedTo     *string
	// CustomTags is the whole new tag list (Graph replaces the list), or nil.
	CustomTags []string
}

// Empty reports whether the patch changes nothing.
func (p Patch) Empty() bool {
	return p.Classification == nil && p.Determination == nil && p.Status == nil &&
		p.AssignedTo == nil && p.CustomTags == nil
}

// Fields lists the properties the patch changes.
func (p Patch) Fields() []Field {
	var out []Field
	for _, f := range []struct {
		f   Field
		set bool
	}{
		{FieldClassification, p.Classification != nil},
		{FieldDetermination, p.Determination != nil},
		{FieldStatus, p.Status != nil},
		{FieldAssignedTo, p.AssignedTo != nil},
		{FieldCustomTags, p.CustomTags != nil},
	} {
		if f.set {
			out = append(out, f.f)
		}
	}
	return out
}

// Diff returns the PATCH that takes cur to the desired state: only properties
// that differ, and for tags the current tags plus the missing desired ones, so an
// analyst's tags are never dropped. An empty Patch means nothing to write, which
// is what ends the loop of our own update events.
func (d *Desired) Diff(cur *incident.Incident) Patch {
	var p Patch
	diff := func(f Field, have string) *string {
		v, ok := d.values[f]
		if !ok || v == have {
			return nil
		}
		return &v
	}
	p.Classification = diff(FieldClassification, cur.Classification)
	p.Determination = diff(FieldDetermination, cur.Determination)
	p.Status = diff(FieldStatus, cur.Status)
	p.AssignedTo = diff(FieldAssignedTo, cur.AssignedTo)
	var missing []string
	for _, t := range d.tags {
		if !slices.Contains(cur.CustomTags, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		p.CustomTags = append(append(make([]string, 0, len(cur.CustomTags)+len(missing)), cur.CustomTags...), missing...)
	}
	return p
}

// Rule returns the rule whose action set field last.
func (d *Desired) Rule(f Field) string { return d.by[f] }
