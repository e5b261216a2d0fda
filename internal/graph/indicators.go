package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Indicator is a Defender for Endpoint indicator as the API returns it.
type Indicator struct {
	ID             flexibleID `json:"id"`
	IndicatorValue string     `json:"indicatorValue"`
	IndicatorType  string     `json:"indicatorType"`
	Action         string     `json:"action"`
	Title          string     `json:"title"`
	Description    string     `json:"description"`
	Severity       string     `json:"severity,omitempty"`
	Application    string     `json:"application,omitempty"`
	ExpirationTime *time.Time `json:"expirationTime,omitempty"`
	RBACGroupNames []string   `json:"rbacGroupNames,omitempty"`
	GenerateAlert  bool       `json:"generateAlert"`
	CreatedBy      string     `json:"createdBy,omitempty"`
}

// flexibleID reads an id that Defender sends as a string or a number.
type flexibleID string

func (f *flexibleID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexibleID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("indicator id %s: %w", b, err)
	}
	*f = flexibleID(n.String())
	return nil
}

// IndicatorType is the Defender indicator type of a hex file hash, by its
// length: FileSha256, FileSha1 or FileMd5 ("" for another length).
func IndicatorType(hash string) string {
	switch len(hash) {
	case 64:
		return "FileSha256"
	case 40:
		return "FileSha1"
	case 32:
		return "FileMd5"
	}
	return ""
}

// indicatorBody is the "submit or update indicator" body of a block.
func (c *Client) indicatorBody(r BlockRequest) ([]byte, error) {
	typ := IndicatorType(r.Hash)
	if typ == "" {
		return nil, fmt.Errorf("%q is not an MD5, SHA-1 or SHA-256 hash", r.Hash)
	}
	mode := r.Mode
	if mode == "" {
		mode = "BlockAndRemediate"
	}
	severity := r.Severity
	if severity == "" {
		severity = "High"
	}
	body := map[string]any{
		"indicatorValue": strings.ToLower(r.Hash),
		"indicatorType":  typ,
		"action":         mode,
		"title":          "graphsoar: " + r.Rule,
		"description":    r.Reason,
		"severity":       severity,
		"application":    c.cfg.Defender.IndicatorApplication,
		// Audit records without blocking and needs an alert; the alerting
		// modes say so in their name.
		"generateAlert": mode == "Audit" || mode == "Alert" || mode == "AlertAndBlock",
	}
	if !r.Expiration.IsZero() {
		body["expirationTime"] = r.Expiration.UTC().Format(time.RFC3339)
	}
	if len(r.RBACGroupNames) > 0 {
		body["rbacGroupNames"] = r.RBACGroupNames
	}
	return json.Marshal(body)
}

// submitIndicator blocks one hash with POST {defender}/api/indicators
// ("submit or update": posting the same value again updates the one
// indicator). It is retried in-process only when Defender certainly did not
// apply it; a 2xx whose body cannot be read is a block made (its id unknown).
func (c *Client) submitIndicator(ctx context.Context, tenant string, r BlockRequest) (Block, Info, error) {
	op := "submit indicator " + r.Hash
	payload, err := c.indicatorBody(r)
	if err != nil {
		return Block{}, Info{}, opError(op, tenant, ErrInvalid, "%v", err)
	}
	target, err := c.indicatorURL("", nil)
	if err != nil {
		return Block{}, Info{}, opError(op, tenant, ErrInvalid, "%v", err)
	}
	var resp []byte
	info, err := c.run(ctx, call{op: op, kind: "submit indicator", tenant: tenant, class: indicatorCalls,
		send: func(ctx context.Context, t *tenantClient) error {
			resp, err = c.defenderRequest(ctx, t, http.MethodPost, target, payload)
			return err
		}})
	if err != nil {
		return Block{}, info, err
	}
	var ind Indicator
	if json.Unmarshal(resp, &ind) != nil {
		c.log.Warn("indicator submitted but its response is unreadable", "tenant", tenant, "hash", r.Hash, "request_id", info.RequestID)
	}
	return Block{Backend: BlockIndicators, ID: string(ind.ID)}, info, nil
}

// FindIndicator returns the tenant's active indicator of a value, or nil
// (GET {defender}/api/indicators?$filter=indicatorValue eq '<value>').
func (c *Client) FindIndicator(ctx context.Context, tenant, value string) (*Indicator, error) {
	op := "find indicator " + value
	q := url.Values{"$filter": {"indicatorValue eq '" + strings.ReplaceAll(strings.ToLower(value), "'", "''") + "'"}}
	target, err := c.indicatorURL("", q)
	if err != nil {
		return nil, opError(op, tenant, ErrInvalid, "%v", err)
	}
	var body []byte
	if _, err := c.run(ctx, call{op: op, kind: "find indicator", tenant: tenant, class: indicatorCalls, idempotent: true,
		send: func(ctx context.Context, t *tenantClient) error {
			body, err = c.defenderRequest(ctx, t, http.MethodGet, target, nil)
			return err
		}}); err != nil {
		return nil, err
	}
	var list struct {
		Value []Indicator `json:"value"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, opError(op, tenant, ErrInvalid, "unreadable response: %v", err)
	}
	for i := range list.Value {
		if strings.EqualFold(list.Value[i].IndicatorValue, value) {
			return &list.Value[i], nil
		}
	}
	return nil, nil
}

// DeleteIndicator removes an indicator (DELETE {defender}/api/indicators/{id});
// one already gone is not an error.
func (c *Client) DeleteIndicator(ctx context.Context, tenant, id string) (Info, error) {
	op := "delete indicator " + id
	target, err := c.indicatorURL("/"+url.PathEscape(id), nil)
	if err != nil {
		return Info{}, opError(op, tenant, ErrInvalid, "%v", err)
	}
	info, err := c.run(ctx, call{op: op, kind: "delete indicator", tenant: tenant, class: indicatorCalls, idempotent: true,
		send: func(ctx context.Context, t *tenantClient) error {
			_, err := c.defenderRequest(ctx, t, http.MethodDelete, target, nil)
			return err
		}})
	if errors.Is(err, ErrNotFound) {
		return info, nil
	}
	return info, err
}

// defenderRequest sends one request to the Defender API with the tenant's
// Defender token and returns the body of a 2xx response. Another status is
// an error, which the call's record lets classify.
func (c *Client) defenderRequest(ctx context.Context, t *tenantClient, method string, u *url.URL, payload []byte) ([]byte, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	token, err := t.defenderToken(ctx)
	if err != nil {
		return nil, fmt.Errorf("token for the Defender API: %w", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", c.userAgent())
	resp, err := c.defenderHTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(resp.Body) // bounded by the transport (limitBody)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	if errors.Is(rerr, errBodyTooLarge) {
		// A read fails (ErrInvalid); a write was applied (see Client.run).
		return nil, rerr
	}
	if rerr != nil {
		// The call was made; its answer is partly lost. The caller decides
		// (a write: done; a read: unreadable).
		return nil, nil
	}
	return b, nil
}
