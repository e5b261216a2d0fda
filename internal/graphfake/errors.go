package graphfake

import (
	"errors"
	"net/http"
	"time"
)

// Graph error codes the emulator sends. Clients branch on status and code.
const (
	codeInvalidRequest  = "invalidRequest"
	codeItemNotFound    = "itemNotFound"
	codeUnauthenticated = "InvalidAuthenticationToken"
	codeThrottled       = "TooManyRequests"
	codeActivityLimit   = "activityLimitReached"
	codeUnavailable     = "serviceNotAvailable"
	codeGeneral         = "generalException"
	codeNotAllowed      = "notAllowed"
)

// ErrNotFound is returned by Server methods given an unknown incident or action id.
var ErrNotFound = errors.New("graphfake: not found")

var (
	errNotObject    = errors.New("the request body must be a JSON object")
	errTrailingData = errors.New("unexpected data after the JSON value")
)

// graphError is Graph's error body.
type graphError struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError innerError `json:"innerError"`
}

type innerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// fail answers with Graph's error body. Headers set on x.w before the call (such as
// Retry-After) are kept.
func (x *exchange) fail(status int, code, message string) {
	body := graphError{Error: errorDetail{
		Code:    code,
		Message: message,
		InnerError: innerError{
			Date:            x.received.UTC().Format(time.RFC3339),
			RequestID:       x.requestID,
			ClientRequestID: x.clientID,
		},
	}}
	b, err := marshal(body)
	if err != nil { // cannot happen: the body holds only strings
		x.writeEmpty(status)
		return
	}
	x.writeRaw(status, b, "application/json")
}

// invalid answers 400 invalidRequest.
func (x *exchange) invalid(message string) {
	x.fail(http.StatusBadRequest, codeInvalidRequest, message)
}

// notFound answers 404 itemNotFound.
func (x *exchange) notFound(message string) {
	x.fail(http.StatusNotFound, codeItemNotFound, message)
}

// defaultCode is the Graph error code the emulator uses for a status when a scripted
// fault names none.
func defaultCode(status int) string {
	switch {
	case status == http.StatusBadRequest:
		return codeInvalidRequest
	case status == http.StatusUnauthorized:
		return codeUnauthenticated
	case status == http.StatusForbidden:
		return "accessDenied"
	case status == http.StatusNotFound:
		return codeItemNotFound
	case status == http.StatusMethodNotAllowed:
		return codeNotAllowed
	case status == http.StatusConflict:
		return "conflict"
	case status == http.StatusPreconditionFailed:
		return "resourceModified"
	case status == http.StatusTooManyRequests:
		return codeActivityLimit
	case status == http.StatusServiceUnavailable:
		return codeUnavailable
	case status == http.StatusGatewayTimeout:
		return "timeout"
	case status >= 500:
		return codeGeneral
	default:
		return codeInvalidRequest
	}
}

// statusMessage is a readable message for a status when a fault names none.
func statusMessage(status int) string {
	if t := http.StatusText(status); t != "" {
		return t + "."
	}
	return "Injected fault."
}
