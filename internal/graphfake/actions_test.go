package graphfake_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/graphfake"
)

const actionsPath = "/beta/security/securityActions"

func blockHash(hash string) map[string]any {
	return map[string]any{
		"name":              "BlockFile",
		"actionReason":      "graphsoar rule block-ransomware",
		"parameters":        []any{map[string]any{"name": "fileHash", "value": hash}},
		"vendorInformation": map[string]any{"provider": "Windows Defender ATP", "vendor": "Microsoft"},
		"clientContext":     "4211",
	}
}

func TestCreateSecurityAction(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphfake.Options{})
	asA := c.withToken(jwt(map[string]any{"tid": tenantA, "appid": "11111111-2222-3333-4444-555555555555"}))

	r := asA.do("POST", actionsPath, blockHash("abc")).expect(t, 201)
	a := r.json(t)
	id, _ := a["id"].(string)
	if id == "" || a["status"] != "NotStarted" || a["azureTenantId"] != tenantA || a["name"] != "BlockFile" ||
		a["appId"] != "11111111-2222-3333-4444-555555555555" || a["clientContext"] != "4211" || a["createdDateTime"] == nil {
		t.Errorf("created action %v", a)
	}
	params := a["parameters"].([]any)
	if params[0].(map[string]any)["value"] != "abc" {
		t.Errorf("parameters %v", params)
	}
	if v := a["vendorInformation"].(map[string]any); v["provider"] != "Windows Defender ATP" || v["vendor"] != "Microsoft" {
		t.Errorf("vendorInformation %v", v)
	}

	got := asA.do("GET", actionsPath+"/"+id, nil).expect(t, 200).json(t)
	if got["id"] != id {
		t.Errorf("GET by id %v", got)
	}
	list := asA.do("GET", actionsPath, nil).expect(t, 200).json(t)
	if ids(t, list)[0] != id {
		t.Errorf("list %v", list)
	}
	if all := s.SecurityActions(); len(all) != 1 || all[0]["id"] != id {
		t.Errorf("SecurityActions() %v", all)
	}

	// Another tenant does not see it; a caller without a tenant does.
	asB := c.withToken(jwt(map[string]any{"tid": tenantB}))
	asB.do("GET", actionsPath+"/"+id, nil).expect(t, 404)
	if n := len(ids(t, asB.do("GET", actionsPath, nil).expect(t, 200).json(t))); n != 0 {
		t.Errorf("tenant B lists %d actions", n)
	}
	c.do("GET", actionsPath+"/"+id, nil).expect(t, 200)
	if noTenant := c.do("POST", actionsPath, blockHash("def")).expect(t, 201).json(t); noTenant["azureTenantId"] != nil {
		t.Errorf("azureTenantId without a tenant: %v", noTenant["azureTenantId"])
	}
	c.do("GET", actionsPath+"/unknown", nil).expect(t, 404)
}

func TestSecurityActionValidation(t *testing.T) {
	t.Parallel()
	with := func(edit func(b map[string]any)) map[string]any {
		b := blockHash("abc")
		edit(b)
		return b
	}
	tests := []struct {
		name string
		body any
		want int
	}{
		{"valid", blockHash("abc"), 201},
		{"clientContext 256", with(func(b map[string]any) { b["clientContext"] = strings.Repeat("x", 256) }), 201},
		{"no clientContext", with(func(b map[string]any) { delete(b, "clientContext") }), 201},
		{"clientContext 257", with(func(b map[string]any) { b["clientContext"] = strings.Repeat("x", 257) }), 400},
		{"no name", with(func(b map[string]any) { delete(b, "name") }), 400},
		{"empty name", with(func(b map[string]any) { b["name"] = "" }), 400},
		{"no parameters", with(func(b map[string]any) { delete(b, "parameters") }), 400},
		{"empty parameters", with(func(b map[string]any) { b["parameters"] = []any{} }), 400},
		{"parameter without value", with(func(b map[string]any) { b["parameters"] = []any{map[string]any{"name": "fileHash"}} }), 400},
		{"no vendorInformation", with(func(b map[string]any) { delete(b, "vendorInformation") }), 400},
		{"no provider", with(func(b map[string]any) { b["vendorInformation"] = map[string]any{"vendor": "Microsoft"} }), 400},
		{"no vendor", with(func(b map[string]any) { b["vendorInformation"] = map[string]any{"provider": "Windows Defender ATP"} }), 400},
		{"read-only status", with(func(b map[string]any) { b["status"] = "Completed" }), 400},
		{"array body", []any{blockHash("abc")}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, c := start(t, graphfake.Options{})
			r := c.do("POST", actionsPath, tc.body).expect(t, tc.want)
			if tc.want == 400 {
				if code := r.errorCode(t); code != "invalidRequest" {
					t.Errorf("code %q", code)
				}
				if n := len(s.SecurityActions()); n != 0 {
					t.Errorf("a rejected action was stored")
				}
			}
		})
	}
}

func TestCancelSecurityAction(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphfake.Options{})
	id := c.do("POST", actionsPath, blockHash("abc")).expect(t, 201).json(t)["id"].(string)

	r := c.do("POST", actionsPath+"/"+id+"/cancelSecurityAction", nil).expect(t, 200)
	if len(r.body) != 0 {
		t.Errorf("cancel body %q", r.body)
	}
	a := c.do("GET", actionsPath+"/"+id, nil).expect(t, 200).json(t)
	if a["status"] != graphfake.ActionFailed || a["completedDateTime"] == nil {
		t.Errorf("canceled action %v", a)
	}
	if info, _ := a["errorInfo"].(map[string]any); !strings.Contains(strings.ToLower(info["message"].(string)), "cancel") {
		t.Errorf("errorInfo %v", a["errorInfo"])
	}
	// Cancelling again is harmless.
	c.do("POST", actionsPath+"/"+id+"/cancelSecurityAction", nil).expect(t, 200)
	c.do("POST", actionsPath+"/nope/cancelSecurityAction", nil).expect(t, 404)

	// A completed action can no longer be canceled.
	done := c.do("POST", actionsPath, blockHash("def")).expect(t, 201).json(t)["id"].(string)
	if err := s.UpdateSecurityAction(done, func(a map[string]any) { a["status"] = graphfake.ActionCompleted }); err != nil {
		t.Fatal(err)
	}
	c.do("POST", actionsPath+"/"+done+"/cancelSecurityAction", nil).expect(t, 400)
	if err := s.UpdateSecurityAction("nope", func(map[string]any) {}); !errors.Is(err, graphfake.ErrNotFound) {
		t.Errorf("UpdateSecurityAction of unknown id: %v", err)
	}
	c.do("GET", actionsPath+"/"+id+"/cancelSecurityAction", nil).expect(t, 405)
}
