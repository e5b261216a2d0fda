package graph

import (
	"context"
	"encoding/json"
	"net/url"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	sdksecurity "github.com/microsoftgraph/msgraph-sdk-go/security"

	"github.com/graphsoar/graphsoar/internal/incident"
)

// ListQuery selects incidents by lastUpdateDateTime.
type ListQuery struct {
	// Since is the lower bound of lastUpdateDateTime; zero lists every incident.
	Since time.Time
	// After makes the bound exclusive (gt instead of ge).
	After bool
	// PageSize is $top (Graph returns at most 50). 0 leaves it to Graph.
	PageSize int
	// WithoutAlerts leaves out $expand=alerts.
	WithoutAlerts bool
}

// filter renders the $filter expression.
func (q ListQuery) filter() string {
	if q.Since.IsZero() {
		return ""
	}
	op := " ge "
	if q.After {
		op = " gt "
	}
	return "lastUpdateDateTime" + op + q.Since.UTC().Format(time.RFC3339Nano)
}

// ListIncidents lists the incidents matching q, page by page
// (GET /security/incidents?$filter=lastUpdateDateTime ge ...&$expand=alerts,
// following every @odata.nextLink), and calls page with each page's incidents
// in Graph's order. Each page request is retried on its own; an error from page
// stops the listing and is returned.
func (c *Client) ListIncidents(ctx context.Context, tenant string, q ListQuery, page func([]*incident.Incident) error) error {
	var next *url.URL
	for n := 1; ; n++ {
		op := "list incidents"
		var body []byte
		_, err := c.run(ctx, call{op: op, kind: "list incidents", tenant: tenant, class: incidentCalls, idempotent: true,
			send: func(ctx context.Context, t *tenantClient) error {
				var req *abs.RequestInformation
				if next != nil {
					req = abs.NewRequestInformation()
					req.Method = abs.GET
					req.SetUri(*next)
				} else {
					params := &sdksecurity.IncidentsRequestBuilderGetQueryParameters{}
					if f := q.filter(); f != "" {
						params.Filter = &f
					}
					if !q.WithoutAlerts {
						params.Expand = []string{"alerts"}
					}
					if q.PageSize > 0 {
						top := int32(q.PageSize)
						params.Top = &top
					}
					var err error
					req, err = t.incidents.ToGetRequestInformation(ctx,
						&sdksecurity.IncidentsRequestBuilderGetRequestConfiguration{QueryParameters: params})
					if err != nil {
						return err
					}
				}
				var err error
				body, err = t.send(ctx, req)
				return err
			}})
		if err != nil {
			return err
		}
		var resp struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			return opError(op, tenant, ErrInvalid, "page %d: %v", n, err)
		}
		incs := make([]*incident.Incident, 0, len(resp.Value))
		for _, raw := range resp.Value {
			inc, err := incident.DecodeIncident(raw)
			if err != nil {
				return opError(op, tenant, ErrInvalid, "page %d: %v", n, err)
			}
			incs = append(incs, inc)
		}
		if err := page(incs); err != nil {
			return err
		}
		if resp.NextLink == "" {
			return nil
		}
		u, err := url.Parse(resp.NextLink)
		if err != nil {
			return opError(op, tenant, ErrInvalid, "page %d: bad @odata.nextLink: %v", n, err)
		}
		next = u
	}
}
