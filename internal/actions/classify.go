package actions

import "strings"

// Classify sets an incident's classification and determination.
type Classify struct{}

// Spec implements Action.
func (Classify) Spec() Spec {
	return Spec{
		Name: "classify",
		Doc: "Set the incident's classification and determination (PATCH classification, determination). " +
			"The determination must go with the classification, as Defender pairs them: " + pairsDoc() + ".",
		Params: []Param{
			{Name: "classification", Kind: String, Required: true, Enum: Classifications(), Doc: "Graph classification"},
			{Name: "determination", Kind: String, Enum: Determinations(), Item: CheckDeterminationAlias,
				Doc: "Graph determination that goes with the classification, in Graph's names " +
					"(compromisedAccount, not compromisedUser as Microsoft's incident page calls it)"},
		},
		Example:  "classify: { classification: truePositive, determination: malware }",
		Combined: checkClassifyPair,
	}
}

// pairsDoc describes the classification/determination pairs of
// DeterminationsFor: "truePositive with a, b or c; ...".
func pairsDoc() string {
	var parts []string
	for _, c := range Classifications() {
		dets := DeterminationsFor(c)
		list := dets[len(dets)-1]
		if len(dets) > 1 {
			list = strings.Join(dets[:len(dets)-1], ", ") + " or " + list
		}
		parts = append(parts, c+" with "+list)
	}
	return strings.Join(parts, "; ")
}

// Desire implements Patcher.
func (Classify) Desire(d *Desired, rule string, p Params) {
	d.set(FieldClassification, p.String("classification"), rule)
	if det, ok := p["determination"].(string); ok {
		d.set(FieldDetermination, det, rule)
	}
}
