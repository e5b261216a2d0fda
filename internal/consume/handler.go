package consume

import "context"

// Handler handles one delivery and says what becomes of it. It does not
// settle: settle does, once, from the Result.
type Handler func(ctx context.Context, d *Delivery) Result

// Middleware wraps a Handler.
type Middleware func(Handler) Handler

// Chain applies middleware so that the first is the outermost.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}
