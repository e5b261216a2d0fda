package actions_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/graphsoar/graphsoar/internal/actions"
)

func TestCheckPair(t *testing.T) {
	t.Parallel()
	tests := []struct {
		classification, determination string
		want                          string // exact error, "" for a pair Defender takes
	}{
		{"truePositive", "multiStagedAttack", ""},
		{"truePositive", "maliciousUserActivity", ""},
		{"truePositive", "compromisedAccount", ""},
		{"truePositive", "malware", ""},
		{"truePositive", "phishing", ""},
		{"truePositive", "unwantedSoftware", ""},
		{"truePositive", "other", ""},
		{"truePositive", "apt", ""}, // deprecated, as Defender once paired it
		{"informationalExpectedActivity", "securityTesting", ""},
		{"informationalExpectedActivity", "lineOfBusinessApplication", ""},
		{"informationalExpectedActivity", "confirmedActivity", ""},
		{"informationalExpectedActivity", "other", ""},
		{"informationalExpectedActivity", "securityPersonnel", ""}, // deprecated likewise
		{"falsePositive", "notMalicious", ""},
		{"falsePositive", "notEnoughDataToValidate", ""},
		{"falsePositive", "other", ""},
		{"unknown", "unknown", ""},
		{"falsePositive", "malware", `determination "malware" does not go with classification "falsePositive": use one of notMalicious, notEnoughDataToValidate, other`},
		{"falsePositive", "apt", `determination "apt" does not go with classification "falsePositive": use one of notMalicious, notEnoughDataToValidate, other`},
		{"truePositive", "securityTesting", `determination "securityTesting" does not go with classification "truePositive": use one of multiStagedAttack, maliciousUserActivity, compromisedAccount, malware, phishing, unwantedSoftware, other`},
		{"truePositive", "securityPersonnel", `determination "securityPersonnel" does not go with classification "truePositive": use one of multiStagedAttack, maliciousUserActivity, compromisedAccount, malware, phishing, unwantedSoftware, other`},
		{"truePositive", "unknown", `determination "unknown" does not go with classification "truePositive": use one of multiStagedAttack, maliciousUserActivity, compromisedAccount, malware, phishing, unwantedSoftware, other`},
		{"informationalExpectedActivity", "notMalicious", `determination "notMalicious" does not go with classification "informationalExpectedActivity": use one of securityTesting, lineOfBusinessApplication, confirmedActivity, other`},
		{"unknown", "malware", `determination "malware" does not go with classification "unknown": use unknown`},
		{"TruePositive", "malware", ""}, // the classification's own check reports it
	}
	for _, tt := range tests {
		if got := errString(actions.CheckPair(tt.classification, tt.determination)); got != tt.want {
			t.Errorf("CheckPair(%s, %s) = %q, want %q", tt.classification, tt.determination, got, tt.want)
		}
	}
}

func TestEveryDeterminationHasAClassification(t *testing.T) {
	t.Parallel()
	for _, d := range actions.Determinations() {
		ok := false
		for _, c := range actions.Classifications() {
			ok = ok || actions.CheckPair(c, d) == nil
		}
		if !ok {
			t.Errorf("determination %s goes with no classification", d)
		}
	}
	for _, c := range actions.Classifications() {
		for _, d := range actions.DeterminationsFor(c) {
			if !slices.Contains(actions.Determinations(), d) {
				t.Errorf("%s pairs with %s, which is not a Graph determination", c, d)
			}
		}
	}
}

func TestDeterminationAlias(t *testing.T) {
	t.Parallel()
	for doc, graph := range map[string]string{
		"compromisedUser":       "compromisedAccount",
		"clean":                 "notMalicious",
		"insufficientData":      "notEnoughDataToValidate",
		"confirmedUserActivity": "confirmedActivity",
	} {
		got, ok := actions.DeterminationAlias(doc)
		if !ok || got != graph {
			t.Errorf("DeterminationAlias(%q) = %q, %v; want %q", doc, got, ok, graph)
		}
		if !slices.Contains(actions.Determinations(), graph) || slices.Contains(actions.Determinations(), doc) {
			t.Errorf("%s -> %s: the alias must map a name Graph rejects to one it takes", doc, graph)
		}
	}
	for _, name := range append(actions.Determinations(), "Malware", "") {
		if _, ok := actions.DeterminationAlias(name); ok {
			t.Errorf("%q is not an alias", name)
		}
	}
}

func TestClassifyChecks(t *testing.T) {
	t.Parallel()
	a, _ := actions.Builtin().Lookup("classify")
	spec := a.Spec()
	tests := []struct {
		params actions.Params
		want   string
		param  string // the parameter a combined error names
	}{
		{actions.Params{"classification": "truePositive", "determination": "compromisedUser"},
			`determination: "compromisedUser" is the name on Microsoft's incident page; Graph calls it "compromisedAccount"`, ""},
		{actions.Params{"classification": "falsePositive", "determination": "clean"},
			`determination: "clean" is the name on Microsoft's incident page; Graph calls it "notMalicious"`, ""},
		{actions.Params{"classification": "falsePositive", "determination": "insufficientData"},
			`determination: "insufficientData" is the name on Microsoft's incident page; Graph calls it "notEnoughDataToValidate"`, ""},
		{actions.Params{"classification": "informationalExpectedActivity", "determination": "confirmedUserActivity"},
			`determination: "confirmedUserActivity" is the name on Microsoft's incident page; Graph calls it "confirmedActivity"`, ""},
		{actions.Params{"classification": "falsePositive", "determination": "malware"},
			`determination "malware" does not go with classification "falsePositive": use one of notMalicious, notEnoughDataToValidate, other`, "determination"},
		{actions.Params{"classification": "falsePositive"}, "", ""},
		{actions.Params{"classification": "unknown", "determination": "unknown"}, "", ""},
		{actions.Params{"classification": "truePositive", "determination": "malwre"},
			`determination: "malwre" is not one of unknown, apt, malware, securityPersonnel, securityTesting, unwantedSoftware, other, multiStagedAttack, compromisedAccount, phishing, maliciousUserActivity, notMalicious, notEnoughDataToValidate, confirmedActivity, lineOfBusinessApplication (did you mean "malware"?)`, ""},
	}
	for _, tt := range tests {
		for _, check := range []func(actions.Params) error{spec.Check, spec.CheckRendered} {
			err := check(tt.params)
			if got := errString(err); got != tt.want {
				t.Errorf("%v: error %q, want %q", tt.params, got, tt.want)
			}
			var pe *actions.ParamError
			if isPE := errors.As(err, &pe); isPE != (tt.param != "") || (isPE && pe.Param != tt.param) {
				t.Errorf("%v: ParamError %+v, want one naming %q", tt.params, pe, tt.param)
			}
		}
	}
}
