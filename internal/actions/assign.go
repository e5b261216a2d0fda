package actions

// Assign sets an incident's owner.
type Assign struct{}

// Spec implements Action.
func (Assign) Spec() Spec {
	return Spec{
		Name:      "assign",
		Doc:       "Assign the incident to a user principal name, or unassign it with an empty value (PATCH assignedTo).",
		Params:    []Param{{Name: "assignedTo", Kind: String, Required: true, Doc: "user principal name; empty to unassign"}},
		Shorthand: "assignedTo",
		Example:   "assign: tier2@contoso.com",
	}
}

// Desire implements Patcher.
func (Assign) Desire(d *Desired, rule string, p Params) {
	d.set(FieldAssignedTo, p.String("assignedTo"), rule)
}
