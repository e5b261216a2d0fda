package incident

// EvidenceTypes are the short names of Graph's evidence types (the
// "#microsoft.graph.security.*Evidence" types of msgraph-sdk-go v1.89.0).
// Each call returns a new slice.
func EvidenceTypes() []string {
	return []string{
		"amazonResourceEvidence", "analyzedMessageEvidence", "azureResourceEvidence", "blobContainerEvidence",
		"blobEvidence", "cloudApplicationEvidence", "cloudLogonRequestEvidence", "cloudLogonSessionEvidence",
		"containerEvidence", "containerImageEvidence", "containerRegistryEvidence", "deviceEvidence",
		"dnsEvidence", "fileEvidence", "fileHashEvidence", "gitHubOrganizationEvidence", "gitHubRepoEvidence",
		"gitHubUserEvidence", "googleCloudResourceEvidence", "hostLogonSessionEvidence", "ioTDeviceEvidence",
		"ipEvidence", "kubernetesClusterEvidence", "kubernetesControllerEvidence", "kubernetesNamespaceEvidence",
		"kubernetesPodEvidence", "kubernetesSecretEvidence", "kubernetesServiceAccountEvidence",
		"kubernetesServiceEvidence", "mailClusterEvidence", "mailboxConfigurationEvidence", "mailboxEvidence",
		"malwareEvidence", "networkConnectionEvidence", "nicEvidence", "oauthApplicationEvidence",
		"processEvidence", "registryKeyEvidence", "registryValueEvidence", "sasTokenEvidence",
		"securityGroupEvidence", "servicePrincipalEvidence", "submissionMailEvidence", "teamsMessageEvidence",
		"urlEvidence", "userEvidence",
	}
}

// EnumValues are the values Graph v1.0 gives an enumeration property of an
// incident (field as Graph spells it), including the sentinels an analyst
// cannot set; nil for a property that is not an enumeration.
func EnumValues(field string) []string {
	switch field {
	case "status":
		return []string{"active", "resolved", "inProgress", "redirected", "unknownFutureValue", "awaitingAction"}
	case "severity":
		return []string{"unknown", "informational", "low", "medium", "high", "unknownFutureValue"}
	case "classification":
		return []string{"unknown", "falsePositive", "truePositive", "informationalExpectedActivity", "unknownFutureValue"}
	case "determination":
		return []string{
			"unknown", "apt", "malware", "securityPersonnel", "securityTesting", "unwantedSoftware", "other",
			"multiStagedAttack", "compromisedAccount", "phishing", "maliciousUserActivity", "notMalicious",
			"notEnoughDataToValidate", "confirmedActivity", "lineOfBusinessApplication", "unknownFutureValue",
		}
	}
	return nil
}
