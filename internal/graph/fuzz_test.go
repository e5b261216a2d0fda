package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	khttp "github.com/microsoft/kiota-http-go"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/incident"
)

// FuzzParseRetryAfter checks the Retry-After reader on any header value and
// clock: the wait is never negative; delay seconds n > 0 wait n seconds, or
// the longest Duration when n seconds is longer (never less than Graph asked);
// an HTTP date waits until then (0 when past); anything else is 0; and spaces
// around the value do not matter.
func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, v := range []string{
		"", "0", "3", " 120 ", "-5", "+7", "soon", "1.5", "0x10", "1e3", "٣",
		"9223372036", // the largest whole number of seconds a Duration holds
		"Mon, 23 Nov 2026 10:00:07 GMT",
		"Mon, 23 Nov 2026 09:59:00 GMT",
		"Monday, 23-Nov-26 10:00:07 GMT",
		"Mon Nov 23 10:00:07 2026",
		"Fri, 31 Dec 9999 23:59:59 GMT",
		"Mon, 23 Nov 2026 10:00:07 +0100",
	} {
		f.Add(v, int64(3), now.Unix())
	}
	f.Add("", int64(math.MaxInt64/int64(time.Second)), now.Unix())
	f.Add("", int64(-1), int64(0))
	maxSecs := int64(math.MaxInt64 / int64(time.Second))
	f.Fuzz(func(t *testing.T, v string, n, unix int64) {
		now := time.Unix(unix, 0).UTC()
		check := func(v string) {
			got := parseRetryAfter(v, now)
			if got < 0 {
				t.Fatalf("parseRetryAfter(%q) = %v: negative", v, got)
			}
			if again := parseRetryAfter(" \t"+v+"\r\n ", now); again != got {
				t.Fatalf("parseRetryAfter(%q) = %v but %v with spaces around", v, got, again)
			}
			s := strings.TrimSpace(v)
			if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
				switch {
				case secs <= 0 && got != 0:
					t.Fatalf("parseRetryAfter(%q) = %v, want 0", v, got)
				case secs > 0 && secs <= maxSecs && got != time.Duration(secs)*time.Second:
					t.Fatalf("parseRetryAfter(%q) = %v, want %ds", v, got, secs)
				case secs > maxSecs && got < time.Duration(maxSecs)*time.Second:
					t.Fatalf("parseRetryAfter(%q) = %v: less than Graph asked for, and less than the longest Duration", v, got)
				}
				return
			} else if errors.Is(err, strconv.ErrRange) {
				return // beyond int64: only never negative
			}
			if d, err := http.ParseTime(s); err == nil {
				if want := max(d.Sub(now), 0); got != want {
					t.Fatalf("parseRetryAfter(%q) at %v = %v, want %v", v, now, got, want)
				}
				return
			}
			if got != 0 {
				t.Fatalf("parseRetryAfter(%q) = %v, want 0 for a value that is neither seconds nor a date", v, got)
			}
		}
		check(v)
		check(strconv.FormatInt(n, 10))
		if unix > -1<<40 && unix < 1<<40 {
			check(now.Add(time.Duration(n%(1<<40)) * time.Millisecond).Format(http.TimeFormat))
		}
	})
}

// fuzzRoundTripper answers the first request with a fuzzed response and any
// later one (the next page of a listing) with an empty page.
type fuzzRoundTripper struct {
	status  int
	header  http.Header
	body    []byte
	answers int
}

func (rt *fuzzRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	rt.answers++
	if rt.answers > 1 {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{"value":[]}`)), Request: req}, nil
	}
	return &http.Response{StatusCode: rt.status, Status: strconv.Itoa(rt.status), Header: rt.header.Clone(),
		Body: io.NopCloser(bytes.NewReader(rt.body)), ContentLength: int64(len(rt.body)), Request: req}, nil
}

// fuzzToken is the static bearer token of the fuzzed client: a secret that
// must never show in an error.
const fuzzToken = "fz-T0ken.Qx7vLm2Rk9"

// fuzzClient is a client whose HTTP requests rt answers, through the
// middleware of newHTTPClient.
func fuzzClient(t *testing.T, rt http.RoundTripper, now time.Time) *Client {
	c, err := New(Config{
		Root:               "https://graph.microsoft.com",
		Default:            &Credential{Auth: AuthNone, Token: fuzzToken},
		MaxAttempts:        1,
		IncidentRate:       RateLimit{PerMinute: -1},
		SecurityActionRate: RateLimit{PerMinute: -1},
		Defender:           Defender{IndicatorRate: RateLimit{PerMinute: -1}},
	}, WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	c.http = &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(rt, middleware("")...)}
	c.defenderHTTP = &http.Client{Transport: recordingTransport{next: rt}}
	return c
}

// FuzzErrorResponse checks how the client reads any Graph response (status,
// body, Retry-After, request-id) to each of its operations: no panic; a
// status of 400 or more is never a success; every failure is one *Error that
// keeps the status, the request id and Graph's error code and message, reads
// Retry-After as parseRetryAfter does (never negative), is of exactly one
// kind, the kind its status gives (429 throttled; 5xx and 408 unavailable;
// 401 and 403 auth; 404 not found; other 4xx, and unreadable 2xx bodies of
// reads, invalid), retryable exactly for the throttled, unavailable and auth
// kinds, ambiguous exactly for a 5xx, and never shows the token. A write
// (comment, block) that got a 2xx is a success, however unreadable its body:
// failing it would make it again.
// fuzzOps is the number of operations FuzzErrorResponse calls.
const fuzzOps = 10

func FuzzErrorResponse(f *testing.F) {
	odata := func(code, msg string) []byte {
		b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": msg,
			"innerError": map[string]string{"date": "2026-11-23T10:00:00", "request-id": "5e1f", "client-request-id": "5e1f"}}})
		return b
	}
	type seed struct {
		status     int
		retryAfter string
		body       []byte
	}
	for _, s := range []seed{
		{429, "7", odata("activityLimitReached", "The request has been throttled")},
		{429, "Mon, 23 Nov 2026 10:00:07 GMT", odata("TooManyRequests", "Too many requests")},
		{503, "120", odata("serviceNotAvailable", "Service Unavailable")},
		{500, "", odata("generalException", "An unexpected error occurred")},
		{504, "", []byte("<html><body>Gateway Timeout</body></html>")},
		{401, "", odata("InvalidAuthenticationToken", "Access token is empty.")},
		{403, "", odata("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")},
		{404, "", odata("ResourceNotFound", "Incident 4211 not found")},
		{400, "", odata("BadRequest", "Invalid filter clause: \u2028 <\"quoted\">")},
		{408, "", nil},
		{409, "", []byte(`{"error":{"code":"Conflict","message":"","details":[{}]}}`)},
		{200, "", fixtures.Read("bare-incident.json")},
		{200, "", []byte(`{"value":[{"id":"1"},{"id":"2"}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/security/incidents?$skiptoken=x"}`)},
		{201, "", []byte(`{"id":"a1","name":"BlockFile","status":"notStarted","clientContext":"k"}`)},
		{204, "", nil},
		{200, "", []byte(`{"id":`)},
		{302, "", nil},
	} {
		for op := range fuzzOps {
			f.Add(s.status, s.retryAfter, s.body, uint8(op))
		}
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	kinds := []error{ErrThrottled, ErrUnavailable, ErrAuth, ErrNotFound, ErrInvalid}
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte, op uint8) {
		if status < 200 || status > 599 {
			status = 200 + int(uint(status)%400)
		}
		header := http.Header{"Content-Type": {"application/json"}, "Request-Id": {"5e1f-77"}}
		if retryAfter != "" {
			header.Set("Retry-After", retryAfter)
		}
		rt := &fuzzRoundTripper{status: status, header: header, body: body}
		c := fuzzClient(t, rt, now)
		ctx := context.Background()
		const tenant = "3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71"
		var err error
		switch op % fuzzOps {
		case 0:
			var inc *incident.Incident
			inc, _, err = c.GetIncident(ctx, tenant, "4211")
			if err == nil && (inc == nil || inc.ID == "") {
				t.Fatalf("an incident without an id: %+v", inc)
			}
		case 1:
			s := "resolved"
			_, _, err = c.UpdateIncident(ctx, tenant, "4211", actions.Patch{Status: &s})
		case 2:
			_, _, err = c.AddComment(ctx, tenant, "4211", "Closed by graphsoar")
		case 3:
			_, _, err = c.BlockFileHash(ctx, tenant, BlockRequest{Hash: strings.Repeat("9f", 32), Reason: "Known ransomware", ClientContext: "k"})
		case 4:
			err = c.ListIncidents(ctx, tenant, ListQuery{Since: now.Add(-time.Hour), PageSize: 50}, func(incs []*incident.Incident) error {
				for _, inc := range incs {
					if inc == nil || inc.ID == "" {
						t.Fatalf("a listed incident without an id: %+v", inc)
					}
				}
				return nil
			})
		case 5:
			_, err = c.FindSecurityAction(ctx, tenant, "k")
		case 6:
			_, err = c.CancelSecurityAction(ctx, tenant, "a1")
		case 7:
			_, _, err = c.submitIndicator(ctx, tenant, BlockRequest{Hash: strings.Repeat("9f", 32), Rule: "r", Reason: "Known ransomware"})
		case 8:
			_, err = c.FindIndicator(ctx, tenant, strings.Repeat("9f", 32))
		case 9:
			_, err = c.DeleteIndicator(ctx, tenant, "995")
		}
		write := op%fuzzOps == 2 || op%fuzzOps == 3 || op%fuzzOps == 7
		if rt.answers == 0 {
			t.Fatalf("no request sent (err %v)", err)
		}
		if err == nil {
			if status >= 400 && !(op%fuzzOps == 9 && status == 404) {
				t.Fatalf("status %d read as a success", status)
			}
			return
		}
		if write && status >= 200 && status <= 299 {
			t.Fatalf("a write answered %d failed: %v", status, err)
		}
		var ge *Error
		if !errors.As(err, &ge) {
			t.Fatalf("error %T is not a *Error: %v", err, err)
		}
		if strings.Contains(err.Error(), fuzzToken) || strings.Contains(ge.Error(), fuzzToken) {
			t.Fatalf("the error shows the token: %v", err)
		}
		if ge.RetryAfter < 0 {
			t.Fatalf("negative Retry-After %v from %q", ge.RetryAfter, retryAfter)
		}
		n := 0
		for _, k := range kinds {
			if errors.Is(err, k) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("error of %d kinds: %v", n, err)
		}
		if ge.Retryable() != (ge.kind == ErrThrottled || ge.kind == ErrUnavailable || ge.kind == ErrAuth) || IsRetryable(err) != ge.Retryable() {
			t.Fatalf("kind %v but retryable %v", ge.kind, ge.Retryable())
		}
		if ge.Ambiguous() && !(ge.Status >= 500) && ge.Status != 0 {
			t.Fatalf("status %d read as ambiguous", ge.Status)
		}
		if status < 400 {
			// Only the body (or a redirect without a Location) can fail it.
			// ListIncidents and FindSecurityAction report an unreadable page
			// with opError, without its status (reported as a finding).
			listing := op%fuzzOps == 4 || op%fuzzOps == 5 || op%fuzzOps == 8
			if (ge.Status != status && !(listing && ge.Status == 0)) || ge.Retryable() {
				t.Fatalf("status %d: %v (status %d, kind %v)", status, err, ge.Status, ge.kind)
			}
			return
		}
		var want error
		switch {
		case status == 429:
			want = ErrThrottled
		case status >= 500, status == 408:
			want = ErrUnavailable
		case status == 401, status == 403:
			want = ErrAuth
		case status == 404:
			want = ErrNotFound
		default:
			want = ErrInvalid
		}
		if ge.Status != status || ge.kind != want {
			t.Fatalf("status %d: %v (status %d, kind %v, want %v)", status, err, ge.Status, ge.kind, want)
		}
		if ge.RequestID != "5e1f-77" {
			t.Fatalf("request id %q", ge.RequestID)
		}
		if wantRA := parseRetryAfter(retryAfter, now); ge.RetryAfter != wantRA {
			t.Fatalf("Retry-After %q read as %v, want %v", retryAfter, ge.RetryAfter, wantRA)
		}
		if ge.Ambiguous() != (status >= 500) {
			t.Fatalf("status %d: ambiguous %v", status, ge.Ambiguous())
		}
		// Graph's code and message, when the body is an OData error with
		// them (JSON names are case-sensitive).
		var top, main map[string]json.RawMessage
		var code, message string
		if json.Unmarshal(body, &top) == nil && json.Unmarshal(top["error"], &main) == nil &&
			json.Unmarshal(main["code"], &code) == nil && json.Unmarshal(main["message"], &message) == nil {
			if ge.Code != code || ge.Message != message {
				t.Fatalf("body %s read as code %q message %q", body, ge.Code, ge.Message)
			}
		}
	})
}
