package broker

import "github.com/graphsoar/graphsoar/internal/secret"

// Secret is a credential that must never be printed; see secret.Secret.
type Secret = secret.Secret
