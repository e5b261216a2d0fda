package graphfake

import (
	"bytes"
	"compress/gzip"
	cryptorand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// statusClientClosed is logged for requests whose client went away before an answer
// (nginx's convention); nothing is written to the connection.
const statusClientClosed = 499

// contentTypeOData is the Content-Type Graph sends with JSON payloads.
const contentTypeOData = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// exchange is one request in flight and what the emulator has learnt about it.
type exchange struct {
	w         http.ResponseWriter
	r         *http.Request
	received  time.Time
	requestID string
	clientID  string
	body      []byte
	query     url.Values
	principal principal
	status    int
}

func (s *Server) newExchange(w http.ResponseWriter, r *http.Request) *exchange {
	x := &exchange{w: w, r: r, received: s.now(), requestID: newUUID()}
	x.clientID = r.Header.Get("client-request-id")
	if x.clientID == "" {
		// Graph reports its own request id as the client id when none was sent.
		x.clientID = x.requestID
	}
	h := w.Header()
	h.Set("request-id", x.requestID)
	h.Set("client-request-id", x.clientID)
	return x
}

// readBody reads the request body, gunzipping it when Content-Encoding is gzip (the
// SDK compresses request bodies), and the query; it answers 400, 413 or 415 on failure.
func (x *exchange) readBody() bool {
	q, qerr := url.ParseQuery(x.r.URL.RawQuery)
	if x.r.Body != nil {
		var src io.Reader = x.r.Body
		switch enc := strings.ToLower(strings.TrimSpace(x.r.Header.Get("Content-Encoding"))); enc {
		case "", "identity":
		case "gzip", "x-gzip":
			zr, err := gzip.NewReader(x.r.Body)
			if err != nil && err != io.EOF {
				x.invalid("The request body is not valid gzip: " + err.Error())
				return false
			}
			if err == nil {
				defer zr.Close()
				src = zr
			}
		default:
			x.fail(http.StatusUnsupportedMediaType, codeInvalidRequest, "Content-Encoding '"+enc+"' is not supported.")
			return false
		}
		b, err := io.ReadAll(io.LimitReader(src, maxBodyBytes+1))
		x.body = b
		if err != nil {
			x.invalid("Unable to read the request body: " + err.Error())
			return false
		}
		if len(b) > maxBodyBytes {
			x.fail(http.StatusRequestEntityTooLarge, "requestTooLarge", "The request body is too large.")
			return false
		}
	}
	if qerr != nil {
		x.invalid("Invalid query string: " + qerr.Error())
		return false
	}
	x.query = q
	return true
}

// tenant is the caller's tenant ("" when the token names none).
func (x *exchange) tenant() string { return x.principal.tenant }

// root is the Graph root URL as the client reached it, e.g. "http://127.0.0.1:8080".
func (x *exchange) root() string {
	scheme := "http"
	if x.r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + x.r.Host
}

// writeRaw sends an already encoded JSON payload.
func (x *exchange) writeRaw(status int, b []byte, contentType string) {
	h := x.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("OData-Version", "4.0")
	x.status = status
	x.w.WriteHeader(status)
	_, _ = x.w.Write(b)
}

// writeJSON encodes v and sends it as an OData JSON payload.
func (x *exchange) writeJSON(status int, v any) {
	b, err := marshal(v)
	if err != nil {
		x.fail(http.StatusInternalServerError, "generalException", "Encoding the response failed.")
		return
	}
	x.writeRaw(status, b, contentTypeOData)
}

// writeEmpty sends a status with no body.
func (x *exchange) writeEmpty(status int) {
	x.w.Header().Set("Content-Length", "0")
	x.status = status
	x.w.WriteHeader(status)
}

// marshal encodes v like Graph does: no HTML escaping, no trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeObject decodes a request body that must be one JSON object, keeping numbers
// exact. It reports whether the body was a JSON array, which Graph rejects specially.
func decodeObject(b []byte) (obj map[string]any, isArray bool, err error) {
	v, err := decodeJSON(b)
	if err != nil {
		return nil, false, err
	}
	switch t := v.(type) {
	case map[string]any:
		return t, false, nil
	case []any:
		return nil, true, errNotObject
	default:
		return nil, false, errNotObject
	}
}

// decodeJSON decodes exactly one JSON value with json.Number for numbers.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailingData
	}
	return v, nil
}

// newUUID returns a random RFC 4122 version 4 UUID, as Graph's ids look.
func newUUID() string {
	var b [16]byte
	_, _ = cryptorand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
