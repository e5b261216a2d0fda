package graph

import (
	"fmt"
	"io"
)

// errBodyTooLarge fails a call whose response body is over maxResponseBody:
// the client classifies it as ErrInvalid (permanent), and never reads such a
// body whole.
var errBodyTooLarge = fmt.Errorf("response body over the limit of %d MiB", maxResponseBody>>20)

// limitBody wraps a response body so that reading more than limit bytes
// fails with errBodyTooLarge; a body whose Content-Length is already over
// the limit fails at its first read. Close closes the original body.
func limitBody(body io.ReadCloser, contentLength, limit int64) io.ReadCloser {
	return &limitedBody{body: body, left: limit, over: contentLength > limit}
}

// limitedBody is a response body read through a limit.
type limitedBody struct {
	body io.ReadCloser
	left int64 // bytes that may still be read
	over bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.over {
		return 0, errBodyTooLarge
	}
	if b.left == 0 {
		// At the limit: the body must end here.
		var one [1]byte
		n, err := b.body.Read(one[:])
		if n > 0 {
			b.over = true
			return 0, errBodyTooLarge
		}
		return 0, err // io.EOF: the body ended at the limit
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.body.Close() }
