package graph

import (
	"context"
	"fmt"
	"net/url"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/security"
	sdksecurity "github.com/microsoftgraph/msgraph-sdk-go/security"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/incident"
)

// send sends a request through the tenant's SDK adapter (authentication and
// middleware included) and returns the raw response body.
func (t *tenantClient) send(ctx context.Context, req *abs.RequestInformation) ([]byte, error) {
	req.Headers.TryAdd("Accept", "application/json")
	out, err := t.adapter.SendPrimitive(ctx, req, "[]byte", errorMapping)
	if err != nil {
		return nil, err
	}
	b, _ := out.([]byte)
	return b, nil
}

// request sends a request the SDK has no builder for (comments, beta
// security actions) through the tenant's adapter: method to u, with a JSON
// body when payload is not nil; it returns the response body.
func (t *tenantClient) request(ctx context.Context, method abs.HttpMethod, u url.URL, payload []byte) ([]byte, error) {
	req := abs.NewRequestInformation()
	req.Method = method
	req.SetUri(u)
	if payload != nil {
		req.SetStreamContentAndContentType(payload, "application/json")
	}
	return t.send(ctx, req)
}

// GetIncident returns an incident with its alerts and their evidence
// (GET /security/incidents/{id}?$expand=alerts).
func (c *Client) GetIncident(ctx context.Context, tenant, id string) (*incident.Incident, Info, error) {
	op := "get incident " + id
	var body []byte
	info, err := c.run(ctx, call{op: op, kind: "get incident", tenant: tenant, class: incidentCalls, idempotent: true,
		send: func(ctx context.Context, t *tenantClient) error {
			req, err := t.incidents.ByIncidentId(id).ToGetRequestInformation(ctx,
				&sdksecurity.IncidentsIncidentItemRequestBuilderGetRequestConfiguration{
					QueryParameters: &sdksecurity.IncidentsIncidentItemRequestBuilderGetQueryParameters{Expand: []string{"alerts"}},
				})
			if err != nil {
				return err
			}
			body, err = t.send(ctx, req)
			return err
		}})
	if err != nil {
		return nil, info, err
	}
	inc, err := incident.DecodeIncident(body)
	if err != nil {
		return nil, info, &Error{Op: op, Tenant: tenant, Status: info.Status, RequestID: info.RequestID, kind: ErrInvalid, Err: err}
	}
	return inc, info, nil
}

// UpdateIncident sends one PATCH with every property of p and returns the
// incident as Graph returns it (without alerts). An empty patch sends nothing
// and returns nil. PATCH is idempotent, so every retryable failure is retried.
func (c *Client) UpdateIncident(ctx context.Context, tenant, id string, p actions.Patch) (*incident.Incident, Info, error) {
	if p.Empty() {
		return nil, Info{}, nil
	}
	op := "patch incident " + id
	body, err := patchBody(p)
	if err != nil {
		return nil, Info{}, opError(op, tenant, ErrInvalid, "%v", err)
	}
	var resp []byte
	info, err := c.run(ctx, call{op: op, kind: "patch incident", tenant: tenant, class: incidentCalls, idempotent: true,
		send: func(ctx context.Context, t *tenantClient) error {
			req, err := t.incidents.ByIncidentId(id).ToPatchRequestInformation(ctx, body, nil)
			if err != nil {
				return err
			}
			resp, err = t.send(ctx, req)
			return err
		}})
	if err != nil {
		return nil, info, err
	}
	if len(resp) == 0 {
		return nil, info, nil
	}
	inc, err := incident.DecodeIncident(resp)
	if err != nil {
		return nil, info, &Error{Op: op, Tenant: tenant, Status: info.Status, RequestID: info.RequestID, kind: ErrInvalid, Err: err}
	}
	return inc, info, nil
}

// patchBody turns a Patch into the SDK's incident model (camelCase enums).
func patchBody(p actions.Patch) (security.Incidentable, error) {
	body := security.NewIncident()
	if p.Status != nil {
		v, err := security.ParseIncidentStatus(*p.Status)
		if err != nil || v == nil {
			return nil, fmt.Errorf("status %q is not a Graph incident status", *p.Status)
		}
		body.SetStatus(v.(*security.IncidentStatus))
	}
	if p.Classification != nil {
		v, err := security.ParseAlertClassification(*p.Classification)
		if err != nil || v == nil {
			return nil, fmt.Errorf("classification %q is not a Graph classification", *p.Classification)
		}
		body.SetClassification(v.(*security.AlertClassification))
	}
	if p.Determination != nil {
		v, err := security.ParseAlertDetermination(*p.Determination)
		if err != nil || v == nil {
			return nil, fmt.Errorf("determination %q is not a Graph determination", *p.Determination)
		}
		body.SetDetermination(v.(*security.AlertDetermination))
	}
	if p.AssignedTo != nil {
		body.SetAssignedTo(p.AssignedTo)
	}
	if p.CustomTags != nil {
		body.SetCustomTags(p.CustomTags)
	}
	return body, nil
}
