package graphfake_test

import (
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/graphfake"
)

func TestComments(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
	s, c := start(t, graphfake.Options{Now: clock.Now})
	path := "/v1.0/security/incidents/4212/comments"

	r := c.do("POST", path, `{"@odata.type":"microsoft.graph.security.alertComment","comment":"first"}`).expect(t, 200)
	body := r.json(t)
	if body["@odata.context"] == nil {
		t.Error("no @odata.context")
	}
	list, _ := body["value"].([]any)
	if len(list) != 1 {
		t.Fatalf("value %v", body["value"])
	}
	first := list[0].(map[string]any)
	if first["comment"] != "first" || first["createdByDisplayName"] != graphfake.DefaultDisplayName ||
		first["createdDateTime"] != "2026-11-20T12:00:00.0000000Z" {
		t.Errorf("comment %v", first)
	}

	clock.Advance(time.Second)
	body = c.do("POST", path, `{"@odata.type":"#microsoft.graph.security.alertComment","comment":"second"}`).expect(t, 200).json(t)
	list, _ = body["value"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["comment"] != "first" || list[1].(map[string]any)["comment"] != "second" {
		t.Errorf("response is not the whole list: %v", list)
	}

	inc, _ := s.Incident("4212")
	if inc["lastUpdateDateTime"] != "2026-11-20T12:00:01.0000000Z" {
		t.Errorf("lastUpdateDateTime %v after a comment", inc["lastUpdateDateTime"])
	}
	if got := s.Comments("4212"); len(got) != 2 || got[1]["comment"] != "second" {
		t.Errorf("Comments() %v", got)
	}
	if got := s.Comments("4213"); len(got) != 0 {
		t.Errorf("Comments of an uncommented incident %v", got)
	}

	// A comment without @odata.type is accepted too.
	c.do("POST", path, `{"comment":"third"}`).expect(t, 200)
}

func TestCommentErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		path string
		body string
		want int
	}{
		{"array body as the SDK's alert builders send", "/v1.0/security/incidents/4212/comments", `[{"@odata.type":"microsoft.graph.security.alertComment","comment":"x"}]`, 400},
		{"empty comment", "/v1.0/security/incidents/4212/comments", `{"comment":""}`, 400},
		{"blank comment", "/v1.0/security/incidents/4212/comments", `{"comment":"   "}`, 400},
		{"no comment", "/v1.0/security/incidents/4212/comments", `{"@odata.type":"microsoft.graph.security.alertComment"}`, 400},
		{"comment not a string", "/v1.0/security/incidents/4212/comments", `{"comment":5}`, 400},
		{"wrong type", "/v1.0/security/incidents/4212/comments", `{"@odata.type":"microsoft.graph.security.incident","comment":"x"}`, 400},
		{"extra property", "/v1.0/security/incidents/4212/comments", `{"comment":"x","createdByDisplayName":"me"}`, 400},
		{"not json", "/v1.0/security/incidents/4212/comments", `hello`, 400},
		{"unknown incident", "/v1.0/security/incidents/1/comments", `{"comment":"x"}`, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, c := start(t, graphfake.Options{})
			r := c.do("POST", tc.path, tc.body).expect(t, tc.want)
			r.errorCode(t)
			if n := len(s.Comments("4212")); n != 0 {
				t.Errorf("a rejected comment was stored (%d)", n)
			}
		})
	}
}
