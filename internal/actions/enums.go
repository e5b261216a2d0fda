package actions

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
