package graphfake

import (
	"fmt"
	"strings"
)

const alertCommentType = "microsoft.graph.security.alertComment"

// postComment answers POST /security/incidents/{id}/comments. The body is one
// alertComment object ({"@odata.type": "[#]microsoft.graph.security.alertComment",
// "comment": "..."}); a JSON array (what the SDK's alert-comment builders send), an
// empty comment or another property is 400 invalidRequest. The comment is appended
// with createdByDisplayName and createdDateTime, lastUpdateDateTime moves forward, and
// the answer is 200 with the incident's whole comment list.
func (s *Server) postComment(x *exchange, id string) {
	text, err := parseComment(x.body)
	if err != nil {
		x.invalid(err.Error())
		return
	}
	s.mu.Lock()
	inc := s.visibleIncident(x.tenant(), id)
	if inc == nil {
		s.mu.Unlock()
		x.notFound("Incident '" + id + "' was not found.")
		return
	}
	at := formatStamp(s.nextStamp(inc["lastUpdateDateTime"]))
	comments, _ := inc["comments"].([]any)
	comments = append(comments, map[string]any{
		"comment":              text,
		"createdByDisplayName": s.actor(x),
		"createdDateTime":      at,
	})
	inc["comments"] = comments
	inc["lastUpdateDateTime"] = at
	b, err := marshal(map[string]any{
		"@odata.context": x.root() + "/" + version(x) + "/$metadata#Collection(" + alertCommentType + ")",
		"value":          comments,
	})
	s.mu.Unlock()
	if err != nil {
		x.fail(500, codeGeneral, "Encoding the response failed.")
		return
	}
	x.writeRaw(200, b, contentTypeOData)
}

// parseComment validates a comment body and returns its text.
func parseComment(body []byte) (string, error) {
	obj, isArray, err := decodeObject(body)
	switch {
	case isArray:
		return "", fmt.Errorf("a JSON array was found in the request body where a single %s object is expected", alertCommentType)
	case err != nil:
		return "", fmt.Errorf("invalid request body: %v", err)
	}
	text := ""
	for k, v := range obj {
		switch k {
		case "@odata.type":
			t, ok := v.(string)
			if !ok || strings.TrimPrefix(t, "#") != alertCommentType {
				return "", fmt.Errorf("invalid @odata.type %s: %s expected", jsonText(v), alertCommentType)
			}
		case "comment":
			s, ok := v.(string)
			if !ok {
				return "", fmt.Errorf("invalid value %s for property 'comment': a string is expected", jsonText(v))
			}
			text = s
		default:
			return "", fmt.Errorf("the property '%s' does not exist on type '%s' or cannot be set", k, alertCommentType)
		}
	}
	if strings.TrimSpace(text) == "" {
		return "", fmt.Errorf("the property 'comment' is required and must not be empty")
	}
	return text, nil
}
