package graphfake

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// wwwAuthenticate is the challenge Graph sends with its 401s.
const wwwAuthenticate = `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`

// principal is what the emulator reads from a bearer token. Signatures are never
// checked: the emulator is a test double.
type principal struct {
	tenant string // tid claim; "" when the token is not a JWT or has none
	name   string // upn, preferred_username, unique_name or app_displayname
	appID  string // appid or azp
}

// authenticate requires "Authorization: Bearer <token>" unless the server is open, and
// reads the tenant and caller name from the token when it is a JWT.
func (s *Server) authenticate(x *exchange) bool {
	token, ok := bearerToken(x.r.Header.Get("Authorization"))
	if !ok && !s.open.Load() {
		x.w.Header().Set("WWW-Authenticate", wwwAuthenticate)
		msg := "Access token is empty."
		if x.r.Header.Get("Authorization") != "" {
			msg = "Access token validation failure: a Bearer token is required."
		}
		x.fail(http.StatusUnauthorized, codeUnauthenticated, msg)
		return false
	}
	if ok {
		x.principal = principalOf(token)
	}
	return true
}

// actor is who the emulator records as having made a change.
func (s *Server) actor(x *exchange) string {
	if x.principal.name != "" {
		return x.principal.name
	}
	return s.displayName
}

// bearerToken extracts the token of a "Bearer <token>" header value.
func bearerToken(h string) (string, bool) {
	scheme, token, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// principalOf reads the claims of a JWT without verifying it. A token that is not three
// base64url parts with a JSON object payload is opaque: it names no tenant.
func principalOf(token string) principal {
	claims := jwtClaims(token)
	if claims == nil {
		return principal{}
	}
	str := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := claims[k].(string); ok && v != "" {
				return v
			}
		}
		return ""
	}
	return principal{
		tenant: str("tid"),
		name:   str("upn", "preferred_username", "unique_name", "app_displayname"),
		appID:  str("appid", "azp"),
	}
}

// jwtClaims decodes the payload of a compact JWS, or returns nil.
func jwtClaims(token string) map[string]any {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var claims map[string]any
	if json.Unmarshal(payload, &claims) != nil {
		return nil
	}
	return claims
}
