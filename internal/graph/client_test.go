package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
	"github.com/graphsoar/graphsoar/internal/incident"
)

func TestGetIncident(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	c := client(t, root, nil)
	inc, info, err := c.GetIncident(context.Background(), tenant, "4211")
	if err != nil {
		t.Fatal(err)
	}
	if inc.ID != "4211" || len(inc.Alerts) != 2 || len(inc.Devices()) != 1 || len(inc.FileHashes()) != 1 {
		t.Fatalf("incident %+v", inc)
	}
	if info.Status != 200 || info.RequestID == "" || info.Attempts != 1 {
		t.Errorf("info %+v", info)
	}
	reqs := srv.RequestsFor("GET", "/v1.0/security/incidents/4211")
	if len(reqs) != 1 || !strings.Contains(reqs[0].RawQuery, "expand=alerts") || reqs[0].Tenant != tenant {
		t.Errorf("requests %+v", reqs)
	}
	if reqs[0].Header.Get("Authorization") != graphfake.Redacted {
		t.Error("no bearer token sent (or the emulator log does not redact it)")
	}
}

func TestGetIncidentUnknownEnumValuesDecode(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	if err := srv.Update("4211", func(inc map[string]any) {
		inc["severity"] = "critical"
		inc["alerts"].([]any)[0].(map[string]any)["serviceSource"] = "someNewProduct"
	}); err != nil {
		t.Fatal(err)
	}
	inc, _, err := client(t, root, nil).GetIncident(context.Background(), tenant, "4211")
	if err != nil {
		t.Fatalf("a new enum value must not fail the call: %v", err)
	}
	if inc.Severity != "critical" || inc.Alerts[0].ServiceSource != "someNewProduct" {
		t.Errorf("severity %q serviceSource %q", inc.Severity, inc.Alerts[0].ServiceSource)
	}
}

func TestGetIncidentErrors(t *testing.T) {
	t.Parallel()
	_, root := emulator(t, graphfake.Options{})
	c := client(t, root, nil)
	for _, tt := range []struct {
		tenant, id string
	}{
		{tenant, "9999"},
		{"00000000-0000-0000-0000-000000000000", "4211"}, // another tenant's incident
	} {
		_, _, err := c.GetIncident(context.Background(), tt.tenant, tt.id)
		var ge *graph.Error
		if !errors.As(err, &ge) || !errors.Is(err, graph.ErrNotFound) || ge.Retryable() || ge.Status != 404 || ge.Code != "itemNotFound" || ge.RequestID == "" {
			t.Errorf("%s/%s: %#v", tt.tenant, tt.id, err)
		}
		if !strings.HasPrefix(err.Error(), "get incident "+tt.id+": 404 itemNotFound") {
			t.Errorf("message %q", err)
		}
	}
}

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	_, root := emulator(t, graphfake.Options{})
	c := client(t, root, func(cfg *graph.Config) {
		cfg.Default = &graph.Credential{Auth: graph.AuthNone, Anonymous: true}
		cfg.MaxAttempts = 1
	})
	_, _, err := c.GetIncident(context.Background(), tenant, "4211")
	var ge *graph.Error
	if !errors.As(err, &ge) || !errors.Is(err, graph.ErrAuth) || ge.Status != 401 || !ge.Retryable() {
		t.Errorf("anonymous against a strict Graph: %v", err)
	}
}

func TestUnknownTenantRefused(t *testing.T) {
	t.Parallel()
	_, root := emulator(t, graphfake.Options{})
	c := client(t, root, func(cfg *graph.Config) {
		cfg.Default = nil
		cfg.Tenants = map[string]graph.Credential{tenant: {Auth: graph.AuthNone}}
	})
	if _, _, err := c.GetIncident(context.Background(), "other-tenant", "4211"); err == nil || !strings.Contains(err.Error(), `tenant "other-tenant" is not configured`) {
		t.Errorf("err %v", err)
	}
	if _, _, err := c.GetIncident(context.Background(), tenant, "4211"); err != nil {
		t.Errorf("configured tenant: %v", err)
	}
}

func desired(t *testing.T, planned ...actions.Planned) *actions.Desired {
	t.Helper()
	ops, err := actions.Builtin().Operations(actions.Target{Tenant: tenant, IncidentID: "4211"}, planned)
	if err != nil {
		t.Fatal(err)
	}
	return &ops.Desired
}

func TestUpdateIncidentSendsOnlyTheDiff(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	c := client(t, root, nil)
	ctx := context.Background()
	if err := srv.Update("4211", func(inc map[string]any) { inc["customTags"] = []any{"analyst-tag"} }); err != nil {
		t.Fatal(err)
	}
	cur, _, err := c.GetIncident(ctx, tenant, "4211")
	if err != nil {
		t.Fatal(err)
	}
	d := desired(t,
		actions.Planned{Rule: "r", Type: "classify", Params: actions.Params{"classification": "truePositive", "determination": "malware"}},
		actions.Planned{Rule: "r", Type: "set_status", Params: actions.Params{"status": cur.Status}},
		actions.Planned{Rule: "r", Type: "tag", Params: actions.Params{"tags": []string{"ransomware"}}},
	)
	patch := d.Diff(cur)
	updated, info, err := c.UpdateIncident(ctx, tenant, "4211", patch)
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.RequestsFor("PATCH", "/v1.0/security/incidents/4211")
	if len(reqs) != 1 || info.Status != 200 {
		t.Fatalf("%d PATCH requests, info %+v", len(reqs), info)
	}
	var body map[string]any
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	delete(body, "@odata.type")
	want := map[string]any{"classification": "truePositive", "determination": "malware", "customTags": []any{"analyst-tag", "ransomware"}}
	if !jsonEqual(body, want) {
		t.Errorf("PATCH body %v, want only the differing properties %v", body, want)
	}
	if updated.Classification != "truePositive" || !slices.Equal(updated.CustomTags, []string{"analyst-tag", "ransomware"}) {
		t.Errorf("returned incident %+v", updated)
	}
	if !updated.LastUpdateDateTime.After(cur.LastUpdateDateTime) {
		t.Error("lastUpdateDateTime did not move")
	}
	// Now in the desired state: the diff is empty and nothing is sent.
	now, _, err := c.GetIncident(ctx, tenant, "4211")
	if err != nil {
		t.Fatal(err)
	}
	if p := d.Diff(now); !p.Empty() {
		t.Fatalf("second diff %+v", p)
	}
	if inc, _, err := c.UpdateIncident(ctx, tenant, "4211", d.Diff(now)); err != nil || inc != nil {
		t.Errorf("empty patch: %v %v", inc, err)
	}
	if n := len(srv.RequestsFor("PATCH", "/v1.0/security/incidents/4211")); n != 1 {
		t.Errorf("%d PATCH requests after an empty patch, want 1", n)
	}
}

func TestUpdateIncidentEveryField(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	c := client(t, root, nil)
	s, cl, de, who := "resolved", "informationalExpectedActivity", "securityTesting", "tier2@contoso.com"
	if _, _, err := c.UpdateIncident(context.Background(), tenant, "4212", actions.Patch{
		Status: &s, Classification: &cl, Determination: &de, AssignedTo: &who, CustomTags: []string{"a"},
	}); err != nil {
		t.Fatal(err)
	}
	inc, _ := srv.Incident("4212")
	for k, v := range map[string]any{"status": s, "classification": cl, "determination": de, "assignedTo": who} {
		if inc[k] != v {
			t.Errorf("%s = %v, want %v", k, inc[k], v)
		}
	}
	bad := "closed"
	_, _, err := c.UpdateIncident(context.Background(), tenant, "4212", actions.Patch{Status: &bad})
	if !errors.Is(err, graph.ErrInvalid) {
		t.Errorf("invalid status: %v", err)
	}
}

func TestAddComment(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	c := client(t, root, nil)
	list, info, err := c.AddComment(context.Background(), tenant, "4213", "Closed by rule x")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Comment != "Closed by rule x" || info.Status != 200 {
		t.Fatalf("comments %+v info %+v", list, info)
	}
	list, _, err = c.AddComment(context.Background(), tenant, "4213", "second")
	if err != nil || len(list) != 2 {
		t.Fatalf("the response is the whole comment list: %v %v", list, err)
	}
	reqs := srv.RequestsFor("POST", "/v1.0/security/incidents/4213/comments")
	var body map[string]any
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatalf("body is not one JSON object: %v", err)
	}
	if body["@odata.type"] != "microsoft.graph.security.alertComment" || body["comment"] != "Closed by rule x" {
		t.Errorf("body %v", body)
	}
	if got := srv.Comments("4213"); len(got) != 2 {
		t.Errorf("emulator holds %d comments", len(got))
	}
}

// legacy selects the retired securityActions backend.
func legacy(cfg *graph.Config) { cfg.Defender.BlockWith = graph.BlockSecurityActions }

func TestBlockFileHashWithLegacySecurityActions(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	c := client(t, root, legacy)
	ctx := context.Background()
	hash := strings.Repeat("ab", 32)
	a, info, err := c.BlockFileHash(ctx, tenant, graph.BlockRequest{Hash: hash, Reason: "known bad", ClientContext: "graphsoar:block.123"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == "" || a.Backend != graph.BlockSecurityActions || info.Status != 201 {
		t.Fatalf("action %+v info %+v", a, info)
	}
	if got := srv.SecurityActions(); len(got) != 1 || got[0]["status"] != graphfake.ActionNotStarted {
		t.Fatalf("stored %v", got)
	}
	stored := srv.SecurityActions()
	if len(stored) != 1 {
		t.Fatalf("%d actions", len(stored))
	}
	want := map[string]any{
		"name": "BlockFile", "actionReason": "known bad", "clientContext": "graphsoar:block.123",
		"parameters":        []any{map[string]any{"name": "fileHash", "value": hash}},
		"vendorInformation": map[string]any{"provider": "Windows Defender ATP", "vendor": "Microsoft"},
		"azureTenantId":     tenant,
	}
	for k, v := range want {
		if !jsonEqual(stored[0][k], v) {
			t.Errorf("%s = %v, want %v", k, stored[0][k], v)
		}
	}
	found, err := c.FindSecurityAction(ctx, tenant, "graphsoar:block.123")
	if err != nil || found == nil || found.ID != a.ID {
		t.Errorf("FindSecurityAction: %+v %v", found, err)
	}
	if none, err := c.FindSecurityAction(ctx, tenant, "graphsoar:other"); err != nil || none != nil {
		t.Errorf("FindSecurityAction(other): %+v %v", none, err)
	}
	if b, err := c.FindBlock(ctx, tenant, graph.BlockRequest{Hash: hash, ClientContext: "graphsoar:block.123"}); err != nil || b == nil || *b != a {
		t.Errorf("FindBlock: %+v %v", b, err)
	}
	if _, err := c.Unblock(ctx, tenant, a); err != nil {
		t.Errorf("unblock: %v", err)
	}
	if got := srv.SecurityActions(); got[0]["status"] != graphfake.ActionFailed {
		t.Errorf("after Unblock the action is %v, want canceled (Failed)", got[0]["status"])
	}
	_, _, err = c.BlockFileHash(ctx, tenant, graph.BlockRequest{Hash: hash, ClientContext: strings.Repeat("x", 257)})
	if !errors.Is(err, graph.ErrInvalid) || len(srv.RequestsFor("POST", "/beta/security/securityActions")) != 2 {
		t.Errorf("a clientContext over 256 characters must fail before any request: %v", err)
	}
}

func TestListIncidentsFollowsNextLink(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	base := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	seedMany(t, srv, 120, base)
	c := client(t, root, nil)
	var pages []int
	seen := map[string]bool{}
	err := c.ListIncidents(context.Background(), tenant, graph.ListQuery{Since: base, PageSize: 50}, func(p []*incident.Incident) error {
		pages = append(pages, len(p))
		for _, inc := range p {
			if seen[inc.ID] {
				t.Errorf("incident %s listed twice", inc.ID)
			}
			seen[inc.ID] = true
			if len(inc.Alerts) == 0 {
				t.Errorf("incident %s without alerts", inc.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pages, []int{50, 50, 20}) || len(seen) != 120 {
		t.Errorf("pages %v, %d incidents", pages, len(seen))
	}
	count := func(q graph.ListQuery) int {
		n := 0
		if err := c.ListIncidents(context.Background(), tenant, q, func(p []*incident.Incident) error { n += len(p); return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	boundary := base.Add(100 * time.Second)
	if n := count(graph.ListQuery{Since: boundary}); n != 20 {
		t.Errorf("ge boundary: %d incidents, want 20", n)
	}
	if n := count(graph.ListQuery{Since: boundary, After: true}); n != 19 {
		t.Errorf("gt boundary: %d incidents, want 19", n)
	}
	stop := errors.New("stop")
	if err := c.ListIncidents(context.Background(), tenant, graph.ListQuery{Since: base, PageSize: 50}, func([]*incident.Incident) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("the page callback's error must end the listing: %v", err)
	}
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
