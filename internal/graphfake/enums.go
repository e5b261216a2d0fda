package graphfake

import (
	"slices"
	"strings"
)

// Graph's incident enums as they appear on the wire (camelCase). Other spellings, such
// as the PascalCase of Defender's own API, are rejected like the SDK's parser does.

// statusAwaitingAction is an evolvable enum member: Graph sends and accepts it only
// with "Prefer: include-unknown-enum-members" and shows unknownFutureValue otherwise.
const statusAwaitingAction = "awaitingAction"

func enumValues(prop string) []string {
	switch prop {
	case "status":
		return []string{"active", "resolved", "inProgress", "redirected", "unknownFutureValue", statusAwaitingAction}
	case "severity":
		return []string{"unknown", "informational", "low", "medium", "high", "unknownFutureValue"}
	case "classification":
		return []string{"unknown", "falsePositive", "truePositive", "informationalExpectedActivity", "unknownFutureValue"}
	case "determination":
		return []string{"unknown", "apt", "malware", "securityPersonnel", "securityTesting",
			"unwantedSoftware", "other", "multiStagedAttack", "compromisedAccount", "phishing",
			"maliciousUserActivity", "notMalicious", "notEnoughDataToValidate", "confirmedActivity",
			"lineOfBusinessApplication", "unknownFutureValue"}
	}
	return nil
}

// validEnum reports whether v is a member of the enum of prop.
func validEnum(prop, v string) bool {
	return slices.Contains(enumValues(prop), v)
}

// includeUnknownEnumMembers reports whether the request opted in to evolvable enum
// members with the Prefer header.
func (x *exchange) includeUnknownEnumMembers() bool {
	for _, h := range x.r.Header.Values("Prefer") {
		for _, p := range strings.Split(h, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "include-unknown-enum-members") {
				return true
			}
		}
	}
	return false
}
