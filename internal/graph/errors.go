package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// The kinds of Graph failure, for errors.Is. Every *Error is exactly one.
var (
	// ErrThrottled: 429; retryable after RetryAfter.
	ErrThrottled = errors.New("graph: throttled")
	// ErrUnavailable: 5xx, 408, timeouts and connection errors; retryable.
	ErrUnavailable = errors.New("graph: unavailable")
	// ErrAuth: 401, 403 or no token; retryable (a credential or a consent can be
	// fixed without losing the event).
	ErrAuth = errors.New("graph: not authorized")
	// ErrNotFound: 404; permanent.
	ErrNotFound = errors.New("graph: not found")
	// ErrInvalid: any other 4xx, or a response that cannot be read; permanent.
	ErrInvalid = errors.New("graph: invalid request")
)

// Error is a failed Graph operation. It is classified once, by Kind: Retryable
// kinds are worth trying again (after RetryAfter when Graph gave one), the
// others are permanent.
type Error struct {
	Op         string // "patch incident 4211"
	Tenant     string
	Status     int    // HTTP status; 0 when no response arrived
	Code       string // Graph's error code ("activityLimitReached")
	Message    string // Graph's error message
	RequestID  string // Graph's request-id
	RetryAfter time.Duration
	Attempts   int
	kind       error
	sent       bool // the request may have reached Graph
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	switch {
	case e.Status != 0:
		b.WriteString(strconv.Itoa(e.Status))
		if e.Code != "" {
			b.WriteString(" " + e.Code)
		}
		if e.Message != "" {
			b.WriteString(": " + e.Message)
		}
		if e.Status < 400 && e.Code == "" && e.Message == "" && e.Err != nil {
			// A success status with an unreadable answer (a body over the
			// limit): the cause is the news.
			b.WriteString(": " + e.Err.Error())
		}
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString(e.kind.Error())
	}
	var extra []string
	if e.RequestID != "" {
		extra = append(extra, "request-id "+e.RequestID)
	}
	if e.RetryAfter > 0 {
		extra = append(extra, "retry after "+e.RetryAfter.String())
	}
	if e.Attempts > 1 {
		extra = append(extra, strconv.Itoa(e.Attempts)+" attempts")
	}
	if len(extra) > 0 {
		b.WriteString(" (" + strings.Join(extra, ", ") + ")")
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the kind sentinel (ErrThrottled, ...).
func (e *Error) Is(target error) bool { return target == e.kind }

// Kind returns the kind sentinel.
func (e *Error) Kind() error { return e.kind }

// Retryable reports whether trying again may succeed.
func (e *Error) Retryable() bool {
	return e.kind == ErrThrottled || e.kind == ErrUnavailable || e.kind == ErrAuth
}

// Ambiguous reports whether a failed write may nevertheless have been applied:
// the request may have reached Graph and no answer says it was refused (a
// timeout, a lost connection, any 5xx: a 503 from a gateway does not prove
// the service behind it did nothing). A non-idempotent write that failed
// ambiguously must be checked before it is sent again. A 4xx (429 included)
// is an answer that the write was not applied.
func (e *Error) Ambiguous() bool {
	return e.sent && (e.Status == 0 || e.Status >= 500)
}

// IsRetryable reports whether err is a retryable *Error.
func IsRetryable(err error) bool {
	var ge *Error
	return errors.As(err, &ge) && ge.Retryable()
}

// classify builds the *Error of a failed attempt from the response recorded
// by the transport and the error the SDK returned.
func classify(op, tenant string, rec *record, err error, now time.Time) *Error {
	e := &Error{Op: op, Tenant: tenant, Status: rec.status, RequestID: rec.requestID, sent: rec.sent, Err: err}
	e.RetryAfter = parseRetryAfter(rec.retryAfter, now)
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		if e.Status == 0 {
			e.Status = oe.ResponseStatusCode
		}
		if main := oe.GetErrorEscaped(); main != nil {
			e.Code, e.Message = deref(main.GetCode()), deref(main.GetMessage())
		}
	}
	if e.Code == "" && e.Message == "" && len(rec.errBody) > 0 {
		// The SDK could not read the body (a field it failed to parse, such
		// as an empty innerError date): read Graph's error object directly.
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(rec.errBody, &body) == nil {
			e.Code, e.Message = body.Error.Code, body.Error.Message
		}
	}
	var authErr *azidentity.AuthenticationFailedError
	var netErr *net.OpError
	switch {
	case e.Status == http.StatusTooManyRequests:
		e.kind = ErrThrottled
	case e.Status >= 500, e.Status == http.StatusRequestTimeout:
		e.kind = ErrUnavailable
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusForbidden:
		e.kind = ErrAuth
	case e.Status == http.StatusNotFound:
		e.kind = ErrNotFound
	case e.Status >= 400:
		e.kind = ErrInvalid
	case errors.As(err, &authErr), isCredentialError(err):
		e.kind, e.sent = ErrAuth, false
	case errors.As(err, &netErr) && netErr.Op == "dial":
		e.kind, e.sent = ErrUnavailable, false
	case errors.Is(err, context.DeadlineExceeded), isNetError(err):
		e.kind = ErrUnavailable
	case e.Status == 0 && rec.sent:
		e.kind = ErrUnavailable
	default:
		e.kind = ErrInvalid
	}
	return e
}

// safeODataError guards against the SDK's ODataError.Error, which
// dereferences the body's error.message without a check: a 4xx or 5xx whose
// body is not Graph's error object (a proxy's page, "0", {}) would panic. Such
// an error is wrapped so that its text is the status; errors.As still finds
// the ODataError.
func safeODataError(err error) error {
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) {
		return err
	}
	if main := oe.GetErrorEscaped(); main != nil && main.GetMessage() != nil {
		return err
	}
	return bareODataError{oe}
}

// bareODataError is an ODataError without a message.
type bareODataError struct{ oe *odataerrors.ODataError }

func (e bareODataError) Error() string {
	code := ""
	if main := e.oe.GetErrorEscaped(); main != nil {
		code = deref(main.GetCode())
	}
	if code == "" {
		code = "no Graph error in the body"
	}
	return fmt.Sprintf("status %d: %s", e.oe.ResponseStatusCode, code)
}

func (e bareODataError) Unwrap() error { return e.oe }

// isCredentialError recognises azidentity's "credential unavailable" errors,
// which have no exported type.
func isCredentialError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Credential") && (strings.Contains(msg, "unavailable") || strings.Contains(msg, "authentication failed"))
}

func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne)
}

// parseRetryAfter reads Retry-After: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		switch {
		case secs <= 0:
			return 0
		case secs > math.MaxInt64/int64(time.Second):
			return math.MaxInt64 // longer than any wait the caller allows
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// NewError builds a classified *Error as the client would return it, for
// test doubles of the client: status 0 is a failure without a response;
// sent says whether the request may have reached Graph.
func NewError(op string, status int, sent bool, retryAfter time.Duration, cause error) *Error {
	rec := &record{status: status, sent: sent}
	e := classify(op, "", rec, cause, time.Now())
	e.RetryAfter = retryAfter
	if status == 0 && sent {
		e.kind = ErrUnavailable
	}
	return e
}

// opError wraps a failure that happened before any request (bad input, no
// credential for the tenant) as a permanent *Error.
func opError(op, tenant string, kind error, format string, args ...any) *Error {
	return &Error{Op: op, Tenant: tenant, kind: kind, Err: fmt.Errorf(format, args...)}
}

// RetryDelay is how long Graph asked to wait before trying again (0: not
// said); the worker's verdict table reads it.
func (e *Error) RetryDelay() time.Duration { return e.RetryAfter }
