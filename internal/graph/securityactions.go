package graph

import (
	"context"
	"encoding/json"
	"net/url"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
)

// MaxClientContext is the longest clientContext Graph accepts.
const MaxClientContext = 256

// SecurityAction is a beta securityAction as Graph returns it.
type SecurityAction struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Status          string    `json:"status"`
	ActionReason    string    `json:"actionReason"`
	ClientContext   string    `json:"clientContext"`
	CreatedDateTime time.Time `json:"createdDateTime"`
	Parameters      []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"parameters"`
}

// actionsURL is the beta securityActions collection; kiota always puts the
// adapter's v1.0 base URL in templates, so beta requests use absolute URLs.
func (c *Client) actionsURL(suffix string) (*url.URL, error) {
	return url.Parse(c.cfg.Root + "/beta/security/securityActions" + suffix)
}

// createSecurityAction creates a legacy security action blocking one file
// hash (POST /beta/security/securityActions): the configured action name with
// the parameter fileHash, and the configured vendor information. Microsoft
// removed this API from Graph on SecurityActionsRetired.
func (c *Client) createSecurityAction(ctx context.Context, tenant string, r BlockRequest) (SecurityAction, Info, error) {
	op := "block file hash " + r.Hash
	if len(r.ClientContext) > MaxClientContext {
		return SecurityAction{}, Info{}, opError(op, tenant, ErrInvalid, "clientContext is %d characters, more than %d", len(r.ClientContext), MaxClientContext)
	}
	body := map[string]any{
		"name":         c.cfg.SecurityActionName,
		"actionReason": r.Reason,
		"parameters":   []map[string]string{{"name": "fileHash", "value": r.Hash}},
		"vendorInformation": map[string]string{
			"provider": c.cfg.SecurityActionVendor.Provider,
			"vendor":   c.cfg.SecurityActionVendor.Vendor,
		},
	}
	if r.ClientContext != "" {
		body["clientContext"] = r.ClientContext
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return SecurityAction{}, Info{}, opError(op, tenant, ErrInvalid, "%v", err)
	}
	target, err := c.actionsURL("")
	if err != nil {
		return SecurityAction{}, Info{}, opError(op, tenant, ErrInvalid, "%v", err)
	}
	var resp []byte
	info, err := c.run(ctx, call{op: op, kind: "block file hash", tenant: tenant, class: actionCalls,
		send: func(ctx context.Context, t *tenantClient) error {
			resp, err = t.request(ctx, abs.POST, *target, payload)
			return err
		}})
	if err != nil {
		return SecurityAction{}, info, err
	}
	var a SecurityAction
	if err := json.Unmarshal(resp, &a); err != nil {
		// Created (a 2xx) though the answer is unreadable: FindBlock finds it
		// by its clientContext.
		c.log.Warn("security action created but its response is unreadable", "tenant", tenant, "hash", r.Hash, "request_id", info.RequestID)
	}
	return a, info, nil
}

// FindSecurityAction returns the security action created with clientContext,
// or nil when there is none (GET /beta/security/securityActions, every page).
func (c *Client) FindSecurityAction(ctx context.Context, tenant, clientContext string) (*SecurityAction, error) {
	next, err := c.actionsURL("")
	if err != nil {
		return nil, err
	}
	for next != nil {
		var body []byte
		u := *next
		if _, err := c.run(ctx, call{op: "list security actions", kind: "list security actions", tenant: tenant, class: actionCalls, idempotent: true,
			send: func(ctx context.Context, t *tenantClient) error {
				var err error
				body, err = t.request(ctx, abs.GET, u, nil)
				return err
			}}); err != nil {
			return nil, err
		}
		var page struct {
			Value    []SecurityAction `json:"value"`
			NextLink string           `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, opError("list security actions", tenant, ErrInvalid, "%v", err)
		}
		for i := range page.Value {
			if page.Value[i].ClientContext == clientContext {
				return &page.Value[i], nil
			}
		}
		next = nil
		if page.NextLink != "" {
			if next, err = url.Parse(page.NextLink); err != nil {
				return nil, opError("list security actions", tenant, ErrInvalid, "bad @odata.nextLink: %v", err)
			}
		}
	}
	return nil, nil
}

// CancelSecurityAction cancels a security action
// (POST /beta/security/securityActions/{id}/cancelSecurityAction).
func (c *Client) CancelSecurityAction(ctx context.Context, tenant, id string) (Info, error) {
	target, err := c.actionsURL("/" + url.PathEscape(id) + "/cancelSecurityAction")
	if err != nil {
		return Info{}, err
	}
	return c.run(ctx, call{op: "cancel security action " + id, kind: "cancel security action", tenant: tenant, class: actionCalls, idempotent: true,
		send: func(ctx context.Context, t *tenantClient) error {
			_, err := t.request(ctx, abs.POST, *target, nil)
			return err
		}})
}
