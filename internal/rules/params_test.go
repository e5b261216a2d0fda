package rules_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// loadDir writes files into a fresh directory and loads it; messages name
// the files by their path under that directory.
func loadDir(t *testing.T, files map[string]string) (string, *rules.RuleSet, error) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.TrimLeft(content, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := rules.Load(dir, nil)
	return dir, rs, err
}

// TestLoadErrorsOfParams covers block_file_hash's mode, severity, expires
// and rbacGroupNames, the determination names of Microsoft's incident page,
// and classification/determination pairs. Each want line is "FILE:line:col:
// message" with FILE the file's path under the test directory.
func TestLoadErrorsOfParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"block_file_hash parameters", `
rules:
  - id: block
    order: 1
    when: "true"
    actions:
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", mode: Blok }
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", mode: audit, severity: high }
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", expires: 30d }
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", expires: 30s }
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", expires: "-1h" }
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", expires: 100000h }
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", expires: next month }
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", rbacGroupNames: [] }
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", rbacGroupNames: [Finance, ""] }
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", rbacGroupNames: ["Finance "] }
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", rbacGroupNames: { Finance: 1 } }
      - block_file_hash:
          hashes: [0f72edb12639339fe2659b105b362adcbd90d7ee3382b12807eb081d0a30639d]
          mode: Block
          severity: Critical
`, []string{
			`:6:72: block_file_hash: mode: "Blok" is not one of BlockAndRemediate, Block, AlertAndBlock, Audit, Alert (did you mean "Block"?)`,
			`:7:72: block_file_hash: mode: "audit" is not one of BlockAndRemediate, Block, AlertAndBlock, Audit, Alert (did you mean "Audit"?)`,
			`:7:89: block_file_hash: severity: "high" is not one of Informational, Low, Medium, High (did you mean "High"?)`,
			`:8:75: block_file_hash: expires: "30d" is not a duration such as 720h, an RFC 3339 time or a date such as 2027-01-01 (a duration has no d unit: write 720h for 30 days)`,
			`:9:75: block_file_hash: expires: duration "30s" is shorter than 1m`,
			`:10:75: block_file_hash: expires: duration "-1h" is not positive`,
			`:11:75: block_file_hash: expires: duration "100000h" is longer than 10 years (87600h)`,
			`:12:75: block_file_hash: expires: "next month" is not a duration such as 720h, an RFC 3339 time or a date such as 2027-01-01`,
			`:13:82: block_file_hash: rbacGroupNames: empty list`,
			`:14:92: block_file_hash: rbacGroupNames: empty`,
			`:15:83: block_file_hash: rbacGroupNames: device group name "Finance " has leading or trailing spaces`,
			`:16:82: block_file_hash: rbacGroupNames: want a string or a list of strings`,
			`:20:21: block_file_hash: severity: "Critical" is not one of Informational, Low, Medium, High`,
		}},
		{"determination names of Microsoft's incident page", `
rules:
  - id: names
    order: 1
    when: |
      incident.determination == "clean"
      || previous?.determination in ["insufficientData", "notMalicious"]
      || "compromisedUser" != incident.determination
    actions:
      - classify: { classification: truePositive, determination: compromisedUser }
      - classify: { classification: informationalExpectedActivity, determination: confirmedUserActivity }
      - classify:
          classification: falsePositive
          determination: clean
`, []string{
			`:5:33: incident.determination: "clean" is the name on Microsoft's incident page; Graph calls it "notMalicious"`,
			`:6:38: previous.determination: "insufficientData" is the name on Microsoft's incident page; Graph calls it "notEnoughDataToValidate"`,
			`:7:10: incident.determination: "compromisedUser" is the name on Microsoft's incident page; Graph calls it "compromisedAccount"`,
			`:9:66: classify: determination: "compromisedUser" is the name on Microsoft's incident page; Graph calls it "compromisedAccount"`,
			`:10:83: classify: determination: "confirmedUserActivity" is the name on Microsoft's incident page; Graph calls it "confirmedActivity"`,
			`:13:26: classify: determination: "clean" is the name on Microsoft's incident page; Graph calls it "notMalicious"`,
		}},
		{"classification and determination pairs", `
rules:
  - id: pairs
    order: 1
    when: "true"
    actions:
      - classify: { classification: falsePositive, determination: malware }
      - classify: { classification: unknown, determination: phishing }
      - classify:
          determination: securityTesting
          classification: truePositive
      - classify: { classification: falsePositive, determination: apt }
      - classify: { classification: truePositive, determination: apt }
      - classify: { classification: informationalExpectedActivity, determination: securityPersonnel }
      - classify: { classification: unknown, determination: unknown }
`, []string{
			`:6:67: classify: determination "malware" does not go with classification "falsePositive": use one of notMalicious, notEnoughDataToValidate, other`,
			`:7:61: classify: determination "phishing" does not go with classification "unknown": use unknown`,
			`:9:26: classify: determination "securityTesting" does not go with classification "truePositive": use one of multiStagedAttack, maliciousUserActivity, compromisedAccount, malware, phishing, unwantedSoftware, other`,
			`:11:67: classify: determination "apt" does not go with classification "falsePositive": use one of notMalicious, notEnoughDataToValidate, other`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, rs, err := loadDir(t, map[string]string{"a.yaml": tt.file})
			var le *rules.LoadError
			if rs != nil || !errors.As(err, &le) {
				t.Fatalf("rules %v, error %v; want a *rules.LoadError and no rules", rs, err)
			}
			file := filepath.Join(dir, "a.yaml")
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = file + w
			}
			if got := strings.Split(le.Error(), "\n"); !slices.Equal(got, want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestNewParametersLoad(t *testing.T) {
	t.Parallel()
	_, rs, err := loadDir(t, map[string]string{"a.yaml": `
rules:
  - id: block
    order: 1
    when: "true"
    actions:
      - block_file_hash:
          hashes: "{{ fileHashes(incident) }}"
          reason: Known ransomware
          mode: AlertAndBlock
          severity: Medium
          expires: 720h
          rbacGroupNames: [Finance, Tier 0 servers]
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", expires: 2027-01-01, mode: Audit }
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", expires: "2027-01-01T00:00:00+01:00", severity: Informational }
      - classify: { classification: truePositive, determination: compromisedAccount }
      - classify: { classification: informationalExpectedActivity, determination: securityPersonnel }
      - classify: { classification: truePositive, determination: apt }
      - classify: { classification: unknown, determination: unknown }
`})
	if err != nil {
		t.Fatal(err)
	}
	p := rs.Evaluate(rules.Input{Event: event(t, "ransomware-created.json"), Now: t0})
	if len(p.Errors) > 0 || len(p.Matches) != 1 || len(p.Matches[0].Actions) != 7 {
		t.Fatalf("plan %+v", p)
	}
	got := p.Matches[0].Actions[0].Params
	if got.String("mode") != "AlertAndBlock" || got.String("severity") != "Medium" || got.String("expires") != "720h" ||
		!slices.Equal(got.List("rbacGroupNames"), []string{"Finance", "Tier 0 servers"}) {
		t.Errorf("params %v", got)
	}
	if e := p.Matches[0].Actions[1].Params.String("expires"); e != "2027-01-01" {
		t.Errorf("expires %q: a date is kept as the rule said it", e)
	}
}

// TestEverySpecExampleLoads: the example an error message offers must itself
// be a valid action.
func TestEverySpecExampleLoads(t *testing.T) {
	t.Parallel()
	reg := actions.Builtin()
	var b strings.Builder
	b.WriteString("rules:\n  - id: examples\n    order: 1\n    when: \"true\"\n    actions:\n")
	for _, name := range reg.Names() {
		a, _ := reg.Lookup(name)
		b.WriteString("      - " + a.Spec().Example + "\n")
	}
	if _, _, err := loadDir(t, map[string]string{"a.yaml": b.String()}); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
}

// TestRenderedParametersChecked: a templated expires, mode, device group list
// or classification/determination pair is checked when rendered; a bad one
// is a run-time error of its rule, which then plans nothing.
func TestRenderedParametersChecked(t *testing.T) {
	t.Parallel()
	_, rs, err := loadDir(t, map[string]string{"a.yaml": `
rules:
  - id: expires-days
    order: 1
    when: "true"
    actions:
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", expires: "{{ 30 }}d" }
  - id: expires-ok
    order: 2
    when: "true"
    actions:
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", expires: "{{ 30 * 24 }}h" }
  - id: mode
    order: 3
    when: "true"
    actions:
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", mode: "{{ incident.severity == 'high' ? 'Blocks' : 'Audit' }}" }
  - id: groups-none
    order: 4
    when: "true"
    actions:
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}", rbacGroupNames: "{{ filter(map(devices(incident), .rbacGroupName), # == 'nowhere') }}" }
  - id: pair-template-classification
    order: 5
    when: "true"
    actions:
      - classify: { classification: "{{ 'false' + 'Positive' }}", determination: malware }
  - id: pair-template-determination
    order: 6
    when: "true"
    actions:
      - classify: { classification: informationalExpectedActivity, determination: "{{ incident.severity == 'high' ? 'malware' : 'other' }}" }
  - id: alias-template
    order: 7
    when: "true"
    actions:
      - classify: { classification: truePositive, determination: "{{ 'compromised' + 'User' }}" }
  - id: pair-template-ok
    order: 8
    when: "true"
    actions:
      - classify: { classification: "{{ 'true' + 'Positive' }}", determination: malware }
`})
	if err != nil {
		t.Fatal(err)
	}
	p := rs.Evaluate(rules.Input{Event: event(t, "ransomware-created.json"), Now: t0})
	if got := p.MatchedRules(); !slices.Equal(got, []string{"expires-ok", "pair-template-ok"}) {
		t.Errorf("matched %v", got)
	}
	want := []rules.RuleError{
		{Rule: "expires-days", Error: `block_file_hash: expires: "30d" is not a duration such as 720h, an RFC 3339 time or a date such as 2027-01-01 (a duration has no d unit: write 720h for 30 days)`},
		{Rule: "mode", Error: `block_file_hash: mode: "Blocks" is not one of BlockAndRemediate, Block, AlertAndBlock, Audit, Alert (did you mean "Block"?)`},
		{Rule: "groups-none", Error: `block_file_hash: rbacGroupNames: empty list`},
		{Rule: "pair-template-classification", Error: `classify: determination "malware" does not go with classification "falsePositive": use one of notMalicious, notEnoughDataToValidate, other`},
		{Rule: "pair-template-determination", Error: `classify: determination "malware" does not go with classification "informationalExpectedActivity": use one of securityTesting, lineOfBusinessApplication, confirmedActivity, other`},
		{Rule: "alias-template", Error: `classify: determination: "compromisedUser" is the name on Microsoft's incident page; Graph calls it "compromisedAccount"`},
	}
	if !slices.Equal(p.Errors, want) {
		t.Errorf("errors:\n%v\nwant:\n%v", p.Errors, want)
	}
	if e := p.Matches[0].Actions[0].Params.String("expires"); e != "720h" {
		t.Errorf("rendered expires %q", e)
	}
}
