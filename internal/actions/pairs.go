package actions

import (
	"fmt"
	"slices"
	"strings"
)

// Defender takes a classification only with a determination of its own kind
// (Defender's incident API documentation): truePositive with the kinds of
// attack, informationalExpectedActivity with the kinds of expected activity,
// falsePositive with the kinds of error. unknown goes with unknown alone.
//
// apt and securityPersonnel are deprecated: Defender's pairs no longer list
// them. They are still values of Graph's enumeration, Defender once paired
// them with truePositive and informationalExpectedActivity, and rule files
// written with them must keep loading (the rule-file format is a contract),
// so they are accepted with those classifications. They are not suggested.

// DeterminationsFor lists the determinations that go with classification, in
// Defender's order, without the deprecated ones; nil for an unknown
// classification. Each call returns a new slice.
func DeterminationsFor(classification string) []string {
	switch classification {
	case "truePositive":
		return []string{"multiStagedAttack", "maliciousUserActivity", "compromisedAccount", "malware", "phishing", "unwantedSoftware", "other"}
	case "informationalExpectedActivity":
		return []string{"securityTesting", "lineOfBusinessApplication", "confirmedActivity", "other"}
	case "falsePositive":
		return []string{"notMalicious", "notEnoughDataToValidate", "other"}
	case "unknown":
		return []string{"unknown"}
	}
	return nil
}

// deprecatedDetermination returns the classification a deprecated
// determination once went with.
func deprecatedDetermination(determination string) (classification string, ok bool) {
	switch determination {
	case "apt":
		return "truePositive", true
	case "securityPersonnel":
		return "informationalExpectedActivity", true
	}
	return "", false
}

// CheckPair reports whether Defender takes determination with
// classification; the error lists the determinations that go with it.
func CheckPair(classification, determination string) error {
	allowed := DeterminationsFor(classification)
	if allowed == nil || slices.Contains(allowed, determination) {
		return nil // an unknown classification is the enumeration check's to report
	}
	if c, ok := deprecatedDetermination(determination); ok && c == classification {
		return nil
	}
	use := "use one of " + strings.Join(allowed, ", ")
	if len(allowed) == 1 {
		use = "use " + allowed[0]
	}
	return fmt.Errorf("determination %q does not go with classification %q: %s", determination, classification, use)
}

// checkClassifyPair is Classify's combined check: the determination, when
// given, must go with the classification.
func checkClassifyPair(p Params) *ParamError {
	det, ok := p["determination"].(string)
	if !ok {
		return nil
	}
	if err := CheckPair(p.String("classification"), det); err != nil {
		return &ParamError{Param: "determination", Err: err}
	}
	return nil
}
