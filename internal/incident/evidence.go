package incident

import (
	"strings"
	"time"
)

// Evidence is one item of an alert's evidence. Graph's evidence is polymorphic by
// "@odata.type" (about 45 types); Evidence holds the union of the properties of the
// types SOC rules look at, so one Go type serves them all and a misspelt property is
// still a load error in a rule. Type is the short type name ("deviceEvidence").
// Properties outside the union are read with Get("name"). Unknown evidence types
// decode like any other: only Type tells them apart.
type Evidence struct {
	Type string `json:"-" expr:"type"`

	// Common to every evidence type (microsoft.graph.security.alertEvidence).
	ODataType                string    `json:"@odata.type" expr:"odataType"`
	CreatedDateTime          time.Time `json:"createdDateTime" expr:"createdDateTime"`
	Verdict                  string    `json:"verdict,omitempty" expr:"verdict"`
	RemediationStatus        string    `json:"remediationStatus,omitempty" expr:"remediationStatus"`
	RemediationStatusDetails string    `json:"remediationStatusDetails,omitempty" expr:"remediationStatusDetails"`
	Roles                    []string  `json:"roles,omitempty" expr:"roles"`
	DetailedRoles            []string  `json:"detailedRoles,omitempty" expr:"detailedRoles"`
	Tags                     []string  `json:"tags,omitempty" expr:"tags"`

	// deviceEvidence
	MdeDeviceID           string          `json:"mdeDeviceId,omitempty" expr:"mdeDeviceId"`
	AzureAdDeviceID       string          `json:"azureAdDeviceId,omitempty" expr:"azureAdDeviceId"`
	DeviceDNSName         string          `json:"deviceDnsName,omitempty" expr:"deviceDnsName"`
	HostName              string          `json:"hostName,omitempty" expr:"hostName"`
	NtDomain              string          `json:"ntDomain,omitempty" expr:"ntDomain"`
	DNSDomain             string          `json:"dnsDomain,omitempty" expr:"dnsDomain"`
	OSPlatform            string          `json:"osPlatform,omitempty" expr:"osPlatform"`
	OSBuild               int64           `json:"osBuild,omitempty" expr:"osBuild"`
	Version               string          `json:"version,omitempty" expr:"version"`
	HealthStatus          string          `json:"healthStatus,omitempty" expr:"healthStatus"`
	RiskScore             string          `json:"riskScore,omitempty" expr:"riskScore"`
	RbacGroupID           int64           `json:"rbacGroupId,omitempty" expr:"rbacGroupId"`
	RbacGroupName         string          `json:"rbacGroupName,omitempty" expr:"rbacGroupName"`
	OnboardingStatus      string          `json:"onboardingStatus,omitempty" expr:"onboardingStatus"`
	DefenderAvStatus      string          `json:"defenderAvStatus,omitempty" expr:"defenderAvStatus"`
	FirstSeenDateTime     time.Time       `json:"firstSeenDateTime" expr:"firstSeenDateTime"`
	IPInterfaces          []string        `json:"ipInterfaces,omitempty" expr:"ipInterfaces"`
	LoggedOnUsers         []*LoggedOnUser `json:"loggedOnUsers,omitempty" expr:"loggedOnUsers"`
	LastIPAddress         string          `json:"lastIpAddress,omitempty" expr:"lastIpAddress"`
	LastExternalIPAddress string          `json:"lastExternalIpAddress,omitempty" expr:"lastExternalIpAddress"`
	VMMetadata            *VMMetadata     `json:"vmMetadata,omitempty" expr:"vmMetadata"`

	// fileEvidence, processEvidence
	DetectionStatus               string       `json:"detectionStatus,omitempty" expr:"detectionStatus"`
	FileDetails                   *FileDetails `json:"fileDetails,omitempty" expr:"fileDetails"`
	ImageFile                     *FileDetails `json:"imageFile,omitempty" expr:"imageFile"`
	ParentProcessImageFile        *FileDetails `json:"parentProcessImageFile,omitempty" expr:"parentProcessImageFile"`
	ProcessID                     int64        `json:"processId,omitempty" expr:"processId"`
	ParentProcessID               int64        `json:"parentProcessId,omitempty" expr:"parentProcessId"`
	ProcessCommandLine            string       `json:"processCommandLine,omitempty" expr:"processCommandLine"`
	ProcessCreationDateTime       time.Time    `json:"processCreationDateTime" expr:"processCreationDateTime"`
	ParentProcessCreationDateTime time.Time    `json:"parentProcessCreationDateTime" expr:"parentProcessCreationDateTime"`

	// userEvidence, mailboxEvidence, processEvidence
	UserAccount    *UserAccount `json:"userAccount,omitempty" expr:"userAccount"`
	Stream         *Stream      `json:"stream,omitempty" expr:"stream"`
	PrimaryAddress string       `json:"primaryAddress,omitempty" expr:"primaryAddress"`
	DisplayName    string       `json:"displayName,omitempty" expr:"displayName"`
	Upn            string       `json:"upn,omitempty" expr:"upn"`

	// ipEvidence, urlEvidence, dnsEvidence, networkConnectionEvidence
	IPAddress          string       `json:"ipAddress,omitempty" expr:"ipAddress"`
	CountryLetterCode  string       `json:"countryLetterCode,omitempty" expr:"countryLetterCode"`
	Location           *GeoLocation `json:"location,omitempty" expr:"location"`
	URL                string       `json:"url,omitempty" expr:"url"`
	DomainName         string       `json:"domainName,omitempty" expr:"domainName"`
	DestinationAddress *IPRef       `json:"destinationAddress,omitempty" expr:"destinationAddress"`
	DestinationPort    int64        `json:"destinationPort,omitempty" expr:"destinationPort"`
	SourceAddress      *IPRef       `json:"sourceAddress,omitempty" expr:"sourceAddress"`
	SourcePort         int64        `json:"sourcePort,omitempty" expr:"sourcePort"`
	Protocol           string       `json:"protocol,omitempty" expr:"protocol"`

	// analyzedMessageEvidence (e-mail)
	NetworkMessageID      string    `json:"networkMessageId,omitempty" expr:"networkMessageId"`
	InternetMessageID     string    `json:"internetMessageId,omitempty" expr:"internetMessageId"`
	Subject               string    `json:"subject,omitempty" expr:"subject"`
	P1Sender              *Sender   `json:"p1Sender,omitempty" expr:"p1Sender"`
	P2Sender              *Sender   `json:"p2Sender,omitempty" expr:"p2Sender"`
	RecipientEmailAddress string    `json:"recipientEmailAddress,omitempty" expr:"recipientEmailAddress"`
	SenderIP              string    `json:"senderIp,omitempty" expr:"senderIp"`
	DeliveryAction        string    `json:"deliveryAction,omitempty" expr:"deliveryAction"`
	DeliveryLocation      string    `json:"deliveryLocation,omitempty" expr:"deliveryLocation"`
	AntiSpamDirection     string    `json:"antiSpamDirection,omitempty" expr:"antiSpamDirection"`
	Language              string    `json:"language,omitempty" expr:"language"`
	ReceivedDateTime      time.Time `json:"receivedDateTime" expr:"receivedDateTime"`
	AttachmentsCount      int64     `json:"attachmentsCount,omitempty" expr:"attachmentsCount"`
	URLCount              int64     `json:"urlCount,omitempty" expr:"urlCount"`
	URLs                  []string  `json:"urls,omitempty" expr:"urls"`
	Threats               []string  `json:"threats,omitempty" expr:"threats"`

	// cloudApplicationEvidence, oauthApplicationEvidence, azureResourceEvidence,
	// registry*Evidence, securityGroupEvidence, malwareEvidence, fileHashEvidence
	AppID             string `json:"appId,omitempty" expr:"appId"`
	Publisher         string `json:"publisher,omitempty" expr:"publisher"`
	ResourceID        string `json:"resourceId,omitempty" expr:"resourceId"`
	ResourceName      string `json:"resourceName,omitempty" expr:"resourceName"`
	ResourceType      string `json:"resourceType,omitempty" expr:"resourceType"`
	RegistryHive      string `json:"registryHive,omitempty" expr:"registryHive"`
	RegistryKey       string `json:"registryKey,omitempty" expr:"registryKey"`
	RegistryValue     string `json:"registryValue,omitempty" expr:"registryValue"`
	RegistryValueName string `json:"registryValueName,omitempty" expr:"registryValueName"`
	RegistryValueType string `json:"registryValueType,omitempty" expr:"registryValueType"`
	SecurityGroupID   string `json:"securityGroupId,omitempty" expr:"securityGroupId"`
	Name              string `json:"name,omitempty" expr:"name"`
	Category          string `json:"category,omitempty" expr:"category"`
	Algorithm         string `json:"algorithm,omitempty" expr:"algorithm"`
	Value             string `json:"value,omitempty" expr:"value"`

	// Where the evidence sits in the incident it was decoded with (for Get).
	owner        *Incident
	alert, index int
}

// FileDetails is microsoft.graph.security.fileDetails.
type FileDetails struct {
	FileName      string `json:"fileName,omitempty" expr:"fileName"`
	FilePath      string `json:"filePath,omitempty" expr:"filePath"`
	FilePublisher string `json:"filePublisher,omitempty" expr:"filePublisher"`
	FileSize      int64  `json:"fileSize,omitempty" expr:"fileSize"`
	Issuer        string `json:"issuer,omitempty" expr:"issuer"`
	Signer        string `json:"signer,omitempty" expr:"signer"`
	Sha1          string `json:"sha1,omitempty" expr:"sha1"`
	Sha256        string `json:"sha256,omitempty" expr:"sha256"`
	Sha256Ac      string `json:"sha256Ac,omitempty" expr:"sha256Ac"`
	Md5           string `json:"md5,omitempty" expr:"md5"`
}

// UserAccount is microsoft.graph.security.userAccount.
type UserAccount struct {
	AccountName       string `json:"accountName,omitempty" expr:"accountName"`
	DomainName        string `json:"domainName,omitempty" expr:"domainName"`
	UserPrincipalName string `json:"userPrincipalName,omitempty" expr:"userPrincipalName"`
	AzureAdUserID     string `json:"azureAdUserId,omitempty" expr:"azureAdUserId"`
	UserSid           string `json:"userSid,omitempty" expr:"userSid"`
	DisplayName       string `json:"displayName,omitempty" expr:"displayName"`
}

// LoggedOnUser is microsoft.graph.security.loggedOnUser.
type LoggedOnUser struct {
	AccountName string `json:"accountName,omitempty" expr:"accountName"`
	DomainName  string `json:"domainName,omitempty" expr:"domainName"`
}

// VMMetadata is microsoft.graph.security.vmMetadata.
type VMMetadata struct {
	CloudProvider  string `json:"cloudProvider,omitempty" expr:"cloudProvider"`
	ResourceID     string `json:"resourceId,omitempty" expr:"resourceId"`
	SubscriptionID string `json:"subscriptionId,omitempty" expr:"subscriptionId"`
	VMID           string `json:"vmId,omitempty" expr:"vmId"`
}

// Stream is microsoft.graph.security.stream.
type Stream struct {
	Name string `json:"name,omitempty" expr:"name"`
}

// GeoLocation is microsoft.graph.security.geoLocation.
type GeoLocation struct {
	City        string  `json:"city,omitempty" expr:"city"`
	CountryName string  `json:"countryName,omitempty" expr:"countryName"`
	State       string  `json:"state,omitempty" expr:"state"`
	Latitude    float64 `json:"latitude,omitempty" expr:"latitude"`
	Longitude   float64 `json:"longitude,omitempty" expr:"longitude"`
}

// IPRef is the ipEvidence nested in a networkConnectionEvidence.
type IPRef struct {
	IPAddress         string `json:"ipAddress,omitempty" expr:"ipAddress"`
	CountryLetterCode string `json:"countryLetterCode,omitempty" expr:"countryLetterCode"`
}

// Sender is the sender of an analyzed message.
type Sender struct {
	DisplayName  string `json:"displayName,omitempty" expr:"displayName"`
	DomainName   string `json:"domainName,omitempty" expr:"domainName"`
	EmailAddress string `json:"emailAddress,omitempty" expr:"emailAddress"`
}

// Get returns the property name of the evidence as Graph sent it, for
// properties Evidence has no field for, or nil when it is absent or the
// evidence was not decoded from JSON.
func (e *Evidence) Get(name string) any {
	if e == nil || e.owner == nil {
		return nil
	}
	obj := e.owner.rawEvidence(e.alert, e.index)
	if obj == nil {
		return nil
	}
	return obj[name]
}

// ShortType turns "#microsoft.graph.security.deviceEvidence" into "deviceEvidence";
// a name without dots is returned as it is.
func ShortType(odataType string) string {
	if i := strings.LastIndexByte(odataType, '.'); i >= 0 {
		return odataType[i+1:]
	}
	return strings.TrimPrefix(odataType, "#")
}
