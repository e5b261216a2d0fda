package actions

import (
	"fmt"
	"sort"
)

// Action is a response action of the catalogue. Every action is also a Patcher
// (it changes incident properties, merged into one PATCH per event) or an
// Effector (it makes its own non-idempotent write).
type Action interface {
	Spec() Spec
}

// Patcher is an action that changes incident properties. Desire records the
// state the action asks for; the PATCH sends only what differs.
type Patcher interface {
	Action
	Desire(d *Desired, rule string, p Params)
}

// Effector is an action whose write is not idempotent on Graph's side (a
// comment, a security action). Each Effect carries the idempotency key under
// which the worker records it so that it happens once.
type Effector interface {
	Action
	Effects(t Target, rule string, p Params) []Effect
}

// Registry is an explicit, immutable catalogue of actions by name.
type Registry struct {
	byName map[string]Action
	names  []string
}

// NewRegistry builds a registry. Names must be unique, each action a Patcher or
// an Effector, and a shorthand must name one of the action's parameters.
func NewRegistry(acts ...Action) (*Registry, error) {
	r := &Registry{byName: make(map[string]Action, len(acts))}
	for _, a := range acts {
		s := a.Spec()
		if _, dup := r.byName[s.Name]; dup {
			return nil, fmt.Errorf("action %s registered twice", s.Name)
		}
		_, isPatch := a.(Patcher)
		_, isEffect := a.(Effector)
		if !isPatch && !isEffect {
			return nil, fmt.Errorf("action %s is neither a Patcher nor an Effector", s.Name)
		}
		if s.Shorthand != "" {
			if _, ok := s.Param(s.Shorthand); !ok {
				return nil, fmt.Errorf("action %s: shorthand %q is not a parameter", s.Name, s.Shorthand)
			}
		}
		r.byName[s.Name] = a
		r.names = append(r.names, s.Name)
	}
	sort.Strings(r.names)
	return r, nil
}

// Builtin returns the registry of graphsoar's built-in actions: classify,
// set_status, assign, tag, comment and block_file_hash.
func Builtin() *Registry {
	r, err := NewRegistry(Classify{}, SetStatus{}, Assign{}, Tag{}, Comment{}, BlockFileHash{})
	if err != nil {
		panic(err) // the built-in catalogue is fixed; an error is a programming error
	}
	return r
}

// Lookup returns the action called name.
func (r *Registry) Lookup(name string) (Action, bool) {
	a, ok := r.byName[name]
	return a, ok
}

// Names lists the action names in lexical order.
func (r *Registry) Names() []string { return append([]string(nil), r.names...) }
