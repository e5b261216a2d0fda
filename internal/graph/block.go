package graph

import (
	"context"
	"fmt"
	"time"
)

// BlockRequest asks for one file hash to be blocked tenant-wide.
type BlockRequest struct {
	// Hash is a hex MD5, SHA-1 or SHA-256; its length gives the indicator type.
	Hash string
	// Rule titles the indicator "graphsoar: <rule>".
	Rule string
	// Reason is the indicator's description (the legacy actionReason).
	Reason string
	// Mode is the indicator action: BlockAndRemediate (default), Block,
	// AlertAndBlock, Audit (sent with generateAlert) or Alert.
	Mode string
	// Severity is the indicator severity: Informational, Low, Medium or High
	// (default).
	Severity string
	// Expiration ends the indicator; zero: never.
	Expiration time.Time
	// RBACGroupNames limits the indicator to these device groups.
	RBACGroupNames []string
	// ClientContext identifies a legacy security action so that FindBlock
	// can tell whether it was made (at most MaxClientContext characters).
	ClientContext string
}

// Block is a block that exists: an indicator or a legacy security action.
type Block struct {
	Backend BlockBackend
	// ID is the indicator's or security action's id ("" when the response
	// that made it could not be read).
	ID string
}

// BlockWith returns the configured block backend.
func (c *Client) BlockWith() BlockBackend { return c.cfg.Defender.BlockWith }

// BlockFileHash blocks one hash with the configured backend: a Defender
// indicator (the default; one per value per tenant, a second submit updates
// it) or a legacy beta security action. It is not idempotent on the legacy
// backend and is treated as not idempotent on both: it is retried in-process
// only when the API certainly did not apply it; after an ambiguous failure,
// FindBlock tells whether it was.
func (c *Client) BlockFileHash(ctx context.Context, tenant string, r BlockRequest) (Block, Info, error) {
	if c.cfg.Defender.BlockWith == BlockSecurityActions {
		a, info, err := c.createSecurityAction(ctx, tenant, r)
		return Block{Backend: BlockSecurityActions, ID: a.ID}, info, err
	}
	return c.submitIndicator(ctx, tenant, r)
}

// FindBlock returns the block of r's hash if it exists, or nil: the tenant's
// active indicator of the hash, or the legacy security action created with
// r.ClientContext.
func (c *Client) FindBlock(ctx context.Context, tenant string, r BlockRequest) (*Block, error) {
	if c.cfg.Defender.BlockWith == BlockSecurityActions {
		a, err := c.FindSecurityAction(ctx, tenant, r.ClientContext)
		if err != nil || a == nil {
			return nil, err
		}
		return &Block{Backend: BlockSecurityActions, ID: a.ID}, nil
	}
	ind, err := c.FindIndicator(ctx, tenant, r.Hash)
	if err != nil || ind == nil {
		return nil, err
	}
	return &Block{Backend: BlockIndicators, ID: string(ind.ID)}, nil
}

// Unblock undoes a block: it deletes the indicator or cancels the legacy
// security action.
func (c *Client) Unblock(ctx context.Context, tenant string, b Block) (Info, error) {
	switch b.Backend {
	case BlockIndicators:
		return c.DeleteIndicator(ctx, tenant, b.ID)
	case BlockSecurityActions:
		return c.CancelSecurityAction(ctx, tenant, b.ID)
	}
	return Info{}, opError("unblock "+b.ID, tenant, ErrInvalid, "unknown block backend %q", b.Backend)
}

// String names a block for messages.
func (b Block) String() string { return fmt.Sprintf("%s %s", b.Backend, b.ID) }
