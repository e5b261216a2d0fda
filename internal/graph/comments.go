package graph

import (
	"context"
	"encoding/json"
	"net/url"

	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/graphsoar/graphsoar/internal/incident"
)

// AddComment posts a comment on an incident
// (POST /security/incidents/{id}/comments) and returns the incident's whole
// comment list, as Graph does. msgraph-sdk-go has no builder for this call, so
// the request is built here and sent through the tenant's SDK adapter. A
// comment is not idempotent: it is retried in-process only when Graph
// certainly did not apply it (see Error.Ambiguous for the other failures); a
// 2xx whose body cannot be read is a comment posted.
func (c *Client) AddComment(ctx context.Context, tenant, id, text string) ([]*incident.Comment, Info, error) {
	op := "comment on incident " + id
	payload, err := json.Marshal(map[string]string{
		"@odata.type": "microsoft.graph.security.alertComment",
		"comment":     text,
	})
	if err != nil {
		return nil, Info{}, opError(op, tenant, ErrInvalid, "%v", err)
	}
	target, err := url.Parse(c.cfg.Root + "/v1.0/security/incidents/" + url.PathEscape(id) + "/comments")
	if err != nil {
		return nil, Info{}, opError(op, tenant, ErrInvalid, "%v", err)
	}
	var resp []byte
	info, err := c.run(ctx, call{op: op, kind: "comment", tenant: tenant, class: incidentCalls,
		send: func(ctx context.Context, t *tenantClient) error {
			resp, err = t.request(ctx, abs.POST, *target, payload)
			return err
		}})
	if err != nil {
		return nil, info, err
	}
	var list struct {
		Value []*incident.Comment `json:"value"`
	}
	if len(resp) > 0 {
		if err := json.Unmarshal(resp, &list); err != nil {
			// Posted (a 2xx) though the answer is unreadable: the comment
			// exists, and a later check finds it on the incident.
			c.log.Warn("comment posted but its response is unreadable", "tenant", tenant, "incident", id, "request_id", info.RequestID)
			return nil, info, nil
		}
	}
	return list.Value, info, nil
}
