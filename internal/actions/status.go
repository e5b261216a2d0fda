package actions

// SetStatus sets an incident's status.
type SetStatus struct{}

// Spec implements Action.
func (SetStatus) Spec() Spec {
	return Spec{
		Name:      "set_status",
		Doc:       "Set the incident's status (PATCH status).",
		Params:    []Param{{Name: "status", Kind: String, Required: true, Enum: Statuses(), Doc: "active, inProgress or resolved"}},
		Shorthand: "status",
		Example:   "set_status: resolved",
	}
}

// Desire implements Patcher.
func (SetStatus) Desire(d *Desired, rule string, p Params) {
	d.set(FieldStatus, p.String("status"), rule)
}
