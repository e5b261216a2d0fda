package ui

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
)

// cookieName is the cookie that carries a browser's proof of the token.
const cookieName = "graphsoar_ui"

// guard puts the page's access rules in front of next:
//
//   - With a token, every request needs it: "Authorization: Bearer TOKEN",
//     or the cookie the page sets when it is opened once as /?token=TOKEN
//     (HttpOnly, SameSite=Strict; it holds a digest of the token, not the
//     token, and the page redirects to itself without the token in its
//     address). Tokens are compared in constant time and never logged.
//   - Without a token, only requests addressed to a loopback host
//     (localhost, 127.0.0.1, [::1]) are answered, so that another site
//     cannot reach the page by pointing its own name at 127.0.0.1.
//   - Every POST from a browser must come from the page's own origin
//     (Sec-Fetch-Site, or Origin against Host): no cross-site request
//     forgery, with or without a token.
func (p *Page) guard(next http.Handler) http.Handler {
	protected := http.NewCrossOriginProtection().Handler(next)
	token := p.o.Token.Reveal()
	var session string
	if token != "" {
		mac := hmac.New(sha256.New, []byte(token))
		mac.Write([]byte("graphsoar live page session"))
		session = hex.EncodeToString(mac.Sum(nil))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		if token == "" {
			if !loopbackHost(r.Host) {
				http.Error(w, "without --ui-token the live page answers only at a loopback address (localhost, 127.0.0.1, [::1])",
					http.StatusForbidden)
				return
			}
			protected.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		if given := q.Get("token"); given != "" && r.Method == http.MethodGet && r.URL.Path == "/" {
			if !sameSecret(given, token) {
				unauthorized(w)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: session, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			q.Del("token")
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		if !authorized(r, token, session) {
			unauthorized(w)
			return
		}
		protected.ServeHTTP(w, r)
	})
}

// authorized reports whether r carries the token or the session cookie.
func authorized(r *http.Request, token, session string) bool {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, given, ok := strings.Cut(auth, " ")
		return ok && strings.EqualFold(scheme, "Bearer") && sameSecret(strings.TrimSpace(given), token)
	}
	c, err := r.Cookie(cookieName)
	return err == nil && sameSecret(c.Value, session)
}

// sameSecret compares two secrets in constant time, their lengths included.
func sameSecret(given, want string) bool {
	a, b := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="graphsoar"`)
	http.Error(w, "the live page needs its token: open /?token=TOKEN once, or send Authorization: Bearer TOKEN",
		http.StatusUnauthorized)
}

// securityHeaders keep the page to its own files and out of other sites'
// frames, and keep its address out of Referer headers.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

// loopbackHost reports whether a Host header names this machine's loopback
// interface.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoopbackOnly reports whether a listen address ("127.0.0.1:9090",
// "localhost:9090", "[::1]:9090") accepts connections from this machine
// only. ":9090" and "0.0.0.0:9090" do not.
func LoopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	return loopbackHost(host)
}
