package actions

// Classify sets an incident's classification and, optionally, its determination.
type Classify struct{}

// Spec implements Action.
func (Classify) Spec() Spec {
	return Spec{
		Name: "classify",
		Doc:  "Set the incident's classification and determination (PATCH classification, determination).",
		Params: []Param{
			{Name: "classification", Kind: String, Required: true, Enum: Classifications(), Doc: "Graph classification"},
			{Name: "determination", Kind: String, Enum: Determinations(), Doc: "Graph determination"},
		},
		Example: "classify: { classification: truePositive, determination: malware }",
	}
}

// Desire implements Patcher.
func (Classify) Desire(d *Desired, rule string, p Params) {
	d.set(FieldClassification, p.String("classification"), rule)
	if det, ok := p["determination"].(string); ok {
		d.set(FieldDetermination, det, rule)
	}
}
