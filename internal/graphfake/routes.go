package graphfake

import (
	"net/http"
	"sort"
	"strings"
)

// handlerFunc answers one routed request.
type handlerFunc func(x *exchange)

// route dispatches x to the handler of its path and method: 404 for a path Graph does
// not serve here, 405 (with Allow) for a known path and another method. Fixed path
// segments match case-insensitively, as Graph's do.
func (s *Server) route(x *exchange) {
	handlers := s.handlersFor(x.r.URL.Path)
	if handlers == nil {
		x.notFound("Resource not found for the segment '" + lastSegment(x.r.URL.Path) + "'.")
		return
	}
	if h, ok := handlers[x.r.Method]; ok {
		h(x)
		return
	}
	allowed := make([]string, 0, len(handlers))
	for m := range handlers {
		allowed = append(allowed, m)
	}
	sort.Strings(allowed)
	x.w.Header().Set("Allow", strings.Join(allowed, ", "))
	x.fail(http.StatusMethodNotAllowed, codeNotAllowed,
		"The HTTP method '"+x.r.Method+"' is not allowed for this resource.")
}

// handlersFor maps the methods served at path to their handlers, or returns nil.
// Defender's /api/indicators sits at the root beside Graph's versions.
func (s *Server) handlersFor(path string) map[string]handlerFunc {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	if isIndicatorPath(path) {
		return s.indicatorRoutes(seg[2:])
	}
	if len(seg) < 3 || !strings.EqualFold(seg[1], "security") {
		return nil
	}
	version, collection, rest := seg[0], seg[2], seg[3:]
	switch {
	case (version == "v1.0" || version == "beta") && strings.EqualFold(collection, "incidents"):
		return s.incidentRoutes(rest)
	case version == "beta" && strings.EqualFold(collection, "securityActions"):
		return s.actionRoutes(rest)
	}
	return nil
}

func (s *Server) incidentRoutes(rest []string) map[string]handlerFunc {
	switch {
	case len(rest) == 0:
		return map[string]handlerFunc{http.MethodGet: s.listIncidents}
	case len(rest) == 1 && rest[0] == "$count":
		return map[string]handlerFunc{http.MethodGet: s.countIncidents}
	case len(rest) == 1 && rest[0] != "":
		id := rest[0]
		return map[string]handlerFunc{
			http.MethodGet:   func(x *exchange) { s.getIncident(x, id) },
			http.MethodPatch: func(x *exchange) { s.patchIncident(x, id) },
		}
	case len(rest) == 2 && rest[0] != "" && strings.EqualFold(rest[1], "comments"):
		id := rest[0]
		return map[string]handlerFunc{http.MethodPost: func(x *exchange) { s.postComment(x, id) }}
	}
	return nil
}

func (s *Server) actionRoutes(rest []string) map[string]handlerFunc {
	switch {
	case len(rest) == 0:
		return map[string]handlerFunc{http.MethodGet: s.listActions, http.MethodPost: s.createAction}
	case len(rest) == 1 && rest[0] != "":
		id := rest[0]
		return map[string]handlerFunc{http.MethodGet: func(x *exchange) { s.getAction(x, id) }}
	case len(rest) == 2 && rest[0] != "" && isCancelSegment(rest[1]):
		id := rest[0]
		return map[string]handlerFunc{http.MethodPost: func(x *exchange) { s.cancelAction(x, id) }}
	}
	return nil
}

func (s *Server) indicatorRoutes(rest []string) map[string]handlerFunc {
	switch {
	case len(rest) == 0:
		return map[string]handlerFunc{http.MethodGet: s.listIndicators, http.MethodPost: s.submitIndicator}
	case len(rest) == 1 && rest[0] != "":
		id := rest[0]
		return map[string]handlerFunc{
			http.MethodGet:    func(x *exchange) { s.getIndicator(x, id) },
			http.MethodDelete: func(x *exchange) { s.deleteIndicator(x, id) },
		}
	}
	return nil
}

// isIndicatorPath reports whether path is /api/indicators or below it (segments
// matched case-insensitively).
func isIndicatorPath(path string) bool {
	seg := strings.SplitN(strings.Trim(path, "/"), "/", 3)
	return len(seg) >= 2 && strings.EqualFold(seg[0], "api") && strings.EqualFold(seg[1], "indicators")
}

// isCancelSegment accepts the bound action by its short and its qualified name.
func isCancelSegment(seg string) bool {
	return strings.EqualFold(seg, "cancelSecurityAction") ||
		strings.EqualFold(seg, "microsoft.graph.cancelSecurityAction")
}

func lastSegment(path string) string {
	path = strings.TrimRight(path, "/")
	return path[strings.LastIndex(path, "/")+1:]
}
