package actions

import "fmt"

// The Graph v1.0 enumeration values of microsoft.graph.security.incident, in the
// camelCase spelling Graph and the SDK use. Rules may only write the values an
// analyst can set: unknownFutureValue, redirected and awaitingAction are Graph's
// own. Each call returns a new slice.

// Classifications an incident can be given.
func Classifications() []string {
	return []string{"unknown", "falsePositive", "truePositive", "informationalExpectedActivity"}
}

// Determinations an incident can be given.
func Determinations() []string {
	return []string{
		"unknown", "apt", "malware", "securityPersonnel", "securityTesting", "unwantedSoftware",
		"other", "multiStagedAttack", "compromisedAccount", "phishing", "maliciousUserActivity",
		"notMalicious", "notEnoughDataToValidate", "confirmedActivity", "lineOfBusinessApplication",
	}
}

// Statuses a rule can set.
func Statuses() []string { return []string{"active", "inProgress", "resolved"} }

// DeterminationAlias returns Graph's determination for a name that Microsoft's
// incident documentation page lists but Graph's metadata and the SDK reject
// (compromisedUser, clean, insufficientData, confirmedUserActivity), and
// whether name is one of those. It is the one table of these names: rule
// parameters and condition literals are both checked against it.
func DeterminationAlias(name string) (graph string, ok bool) {
	switch name {
	case "compromisedUser":
		return "compromisedAccount", true
	case "clean":
		return "notMalicious", true
	case "insufficientData":
		return "notEnoughDataToValidate", true
	case "confirmedUserActivity":
		return "confirmedActivity", true
	}
	return "", false
}

// CheckDeterminationAlias returns an error naming Graph's value when name is
// one of the determination names of Microsoft's incident page (see
// DeterminationAlias), and nil for any other name.
func CheckDeterminationAlias(name string) error {
	graph, ok := DeterminationAlias(name)
	if !ok {
		return nil
	}
	return fmt.Errorf("%q is the name on Microsoft's incident page; Graph calls it %q", name, graph)
}

// The Defender for Endpoint indicator enumerations (PascalCase, as the
// indicators API spells them) that block_file_hash takes. Each call returns a
// new slice.

// IndicatorModes are the indicator actions block_file_hash may ask for, the
// default first.
func IndicatorModes() []string {
	return []string{"BlockAndRemediate", "Block", "AlertAndBlock", "Audit", "Alert"}
}

// IndicatorSeverities are the severities of an indicator.
func IndicatorSeverities() []string { return []string{"Informational", "Low", "Medium", "High"} }
