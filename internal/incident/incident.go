// Package incident is graphsoar's model of a Microsoft Defender XDR incident as
// Microsoft Graph v1.0 returns it (GET /security/incidents/{id}?$expand=alerts),
// and of the event envelope that carries it on NATS.
//
// Field names are the ones Graph uses, in the JSON and in rule expressions (the
// `expr` tags). Enumerations stay plain strings, so a value Graph adds later
// decodes instead of failing the event. Null scalars decode to their zero value.
package incident

import (
	"sync"
	"time"
)

// Incident is a Defender XDR incident with its alerts and their evidence.
//
// An Incident is read-only once decoded: the helper methods (Devices, Users,
// FileHashes, ...) compute their result on first use and share it afterwards, so
// one Incident may be evaluated by many rules, also concurrently. Always use it
// through a pointer.
type Incident struct {
	ODataType          string     `json:"@odata.type,omitempty" expr:"-"`
	ID                 string     `json:"id" expr:"id"`
	TenantID           string     `json:"tenantId,omitempty" expr:"tenantId"`
	DisplayName        string     `json:"displayName,omitempty" expr:"displayName"`
	Description        string     `json:"description,omitempty" expr:"description"`
	Summary            string     `json:"summary,omitempty" expr:"summary"`
	Status             string     `json:"status,omitempty" expr:"status"`
	Severity           string     `json:"severity,omitempty" expr:"severity"`
	Classification     string     `json:"classification,omitempty" expr:"classification"`
	Determination      string     `json:"determination,omitempty" expr:"determination"`
	AssignedTo         string     `json:"assignedTo,omitempty" expr:"assignedTo"`
	CustomTags         []string   `json:"customTags" expr:"customTags"`
	SystemTags         []string   `json:"systemTags,omitempty" expr:"systemTags"`
	IncidentWebURL     string     `json:"incidentWebUrl,omitempty" expr:"incidentWebUrl"`
	RedirectIncidentID string     `json:"redirectIncidentId,omitempty" expr:"redirectIncidentId"`
	ResolvingComment   string     `json:"resolvingComment,omitempty" expr:"resolvingComment"`
	LastModifiedBy     string     `json:"lastModifiedBy,omitempty" expr:"lastModifiedBy"`
	CreatedDateTime    time.Time  `json:"createdDateTime" expr:"createdDateTime"`
	LastUpdateDateTime time.Time  `json:"lastUpdateDateTime" expr:"lastUpdateDateTime"`
	Comments           []*Comment `json:"comments,omitempty" expr:"comments"`
	Alerts             []*Alert   `json:"alerts,omitempty" expr:"alerts"`

	derivedOnce sync.Once
	derived     *derived

	// raw is the JSON document the incident was decoded from and rawPath the
	// key of the incident in it ("" for the document itself, "data" in an
	// envelope); the tree is decoded on first use by Evidence.Get.
	raw      []byte
	rawPath  string
	treeOnce sync.Once
	tree     map[string]any
}

// Comment is an incident or alert comment (microsoft.graph.security.alertComment).
type Comment struct {
	Comment              string    `json:"comment" expr:"comment"`
	CreatedByDisplayName string    `json:"createdByDisplayName,omitempty" expr:"createdByDisplayName"`
	CreatedDateTime      time.Time `json:"createdDateTime" expr:"createdDateTime"`
}

// Alert is a microsoft.graph.security.alert inlined by $expand=alerts.
type Alert struct {
	ID                    string         `json:"id" expr:"id"`
	ProviderAlertID       string         `json:"providerAlertId,omitempty" expr:"providerAlertId"`
	IncidentID            string         `json:"incidentId,omitempty" expr:"incidentId"`
	TenantID              string         `json:"tenantId,omitempty" expr:"tenantId"`
	Title                 string         `json:"title,omitempty" expr:"title"`
	Description           string         `json:"description,omitempty" expr:"description"`
	RecommendedActions    string         `json:"recommendedActions,omitempty" expr:"recommendedActions"`
	Category              string         `json:"category,omitempty" expr:"category"`
	Severity              string         `json:"severity,omitempty" expr:"severity"`
	Status                string         `json:"status,omitempty" expr:"status"`
	Classification        string         `json:"classification,omitempty" expr:"classification"`
	Determination         string         `json:"determination,omitempty" expr:"determination"`
	ServiceSource         string         `json:"serviceSource,omitempty" expr:"serviceSource"`
	DetectionSource       string         `json:"detectionSource,omitempty" expr:"detectionSource"`
	DetectorID            string         `json:"detectorId,omitempty" expr:"detectorId"`
	ProductName           string         `json:"productName,omitempty" expr:"productName"`
	AssignedTo            string         `json:"assignedTo,omitempty" expr:"assignedTo"`
	ActorDisplayName      string         `json:"actorDisplayName,omitempty" expr:"actorDisplayName"`
	ThreatDisplayName     string         `json:"threatDisplayName,omitempty" expr:"threatDisplayName"`
	ThreatFamilyName      string         `json:"threatFamilyName,omitempty" expr:"threatFamilyName"`
	AlertPolicyID         string         `json:"alertPolicyId,omitempty" expr:"alertPolicyId"`
	InvestigationState    string         `json:"investigationState,omitempty" expr:"investigationState"`
	AlertWebURL           string         `json:"alertWebUrl,omitempty" expr:"alertWebUrl"`
	IncidentWebURL        string         `json:"incidentWebUrl,omitempty" expr:"incidentWebUrl"`
	MitreTechniques       []string       `json:"mitreTechniques,omitempty" expr:"mitreTechniques"`
	SystemTags            []string       `json:"systemTags,omitempty" expr:"systemTags"`
	CustomDetails         map[string]any `json:"customDetails,omitempty" expr:"customDetails"`
	CreatedDateTime       time.Time      `json:"createdDateTime" expr:"createdDateTime"`
	LastUpdateDateTime    time.Time      `json:"lastUpdateDateTime" expr:"lastUpdateDateTime"`
	ResolvedDateTime      time.Time      `json:"resolvedDateTime" expr:"resolvedDateTime"`
	FirstActivityDateTime time.Time      `json:"firstActivityDateTime" expr:"firstActivityDateTime"`
	LastActivityDateTime  time.Time      `json:"lastActivityDateTime" expr:"lastActivityDateTime"`
	Comments              []*Comment     `json:"comments,omitempty" expr:"comments"`
	Evidence              []*Evidence    `json:"evidence,omitempty" expr:"evidence"`
}
