package graphfake

import (
	"fmt"
	"net/http"
	"unicode/utf8"
)

// Security action statuses (beta operationStatus). Graph documents no canceled member:
// a canceled action becomes Failed with errorInfo saying it was canceled.
const (
	ActionNotStarted = "NotStarted"
	ActionRunning    = "Running"
	ActionCompleted  = "Completed"
	ActionFailed     = "Failed"

	maxClientContext = 256
	canceledMessage  = "Canceled by cancelSecurityAction."
)

// createAction answers POST /beta/security/securityActions with 201 and the stored
// securityAction: a generated id, status NotStarted, createdDateTime and
// lastActionDateTime, the caller's tenant as azureTenantId, its app id and user when the
// token names them, and the body's name, actionReason, parameters, vendorInformation and
// clientContext. name, a non-empty parameters array of {name, value} and
// vendorInformation.provider and .vendor are required, clientContext is at most 256
// characters, and other properties are rejected: 400 invalidRequest otherwise.
func (s *Server) createAction(x *exchange) {
	body, isArray, err := decodeObject(x.body)
	if err != nil {
		if isArray {
			err = fmt.Errorf("a single securityAction object is expected, not an array")
		}
		x.invalid("Invalid request body: " + err.Error())
		return
	}
	if err := validateAction(body); err != nil {
		x.invalid(err.Error())
		return
	}
	s.mu.Lock()
	at := formatStamp(s.now())
	action := map[string]any{
		"id":                 newUUID(),
		"name":               body["name"],
		"actionReason":       body["actionReason"],
		"appId":              nullIfEmpty(x.principal.appID),
		"azureTenantId":      nullIfEmpty(x.tenant()),
		"clientContext":      body["clientContext"],
		"createdDateTime":    at,
		"completedDateTime":  nil,
		"lastActionDateTime": at,
		"errorInfo":          nil,
		"parameters":         body["parameters"],
		"states":             []any{},
		"status":             ActionNotStarted,
		"user":               nullIfEmpty(x.principal.name),
		"vendorInformation":  body["vendorInformation"],
	}
	s.actionIndex[action["id"].(string)] = len(s.actions)
	s.actions = append(s.actions, action)
	v := actionView(x, action)
	s.mu.Unlock()
	x.w.Header().Set("Location", x.root()+"/beta/security/securityActions('"+action["id"].(string)+"')")
	x.writeJSON(http.StatusCreated, v)
}

// listActions answers GET /beta/security/securityActions with the caller's actions in
// creation order.
func (s *Server) listActions(x *exchange) {
	s.mu.RLock()
	value := make([]map[string]any, 0, len(s.actions))
	for _, a := range s.actions {
		if actionVisible(a, x.tenant()) {
			value = append(value, a)
		}
	}
	b, err := marshal(map[string]any{
		"@odata.context": x.root() + "/beta/$metadata#security/securityActions",
		"value":          value,
	})
	s.mu.RUnlock()
	if err != nil {
		x.fail(500, codeGeneral, "Encoding the response failed.")
		return
	}
	x.writeRaw(200, b, contentTypeOData)
}

// getAction answers GET /beta/security/securityActions/{id}; 404 itemNotFound when the
// id is unknown or belongs to another tenant.
func (s *Server) getAction(x *exchange, id string) {
	s.mu.RLock()
	a := s.visibleAction(x.tenant(), id)
	var v map[string]any
	if a != nil {
		v = actionView(x, a)
	}
	s.mu.RUnlock()
	if v == nil {
		x.notFound("Security action '" + id + "' was not found.")
		return
	}
	x.writeJSON(http.StatusOK, v)
}

// cancelAction answers POST .../securityActions/{id}/cancelSecurityAction with 200 and
// no body. A NotStarted or Running action becomes Failed with errorInfo.message saying
// it was canceled (Graph's status enum has no canceled member); canceling it again is a
// no-op, canceling a Completed or otherwise Failed action is 400, an unknown id 404.
func (s *Server) cancelAction(x *exchange, id string) {
	s.mu.Lock()
	a := s.visibleAction(x.tenant(), id)
	if a == nil {
		s.mu.Unlock()
		x.notFound("Security action '" + id + "' was not found.")
		return
	}
	switch a["status"] {
	case ActionNotStarted, ActionRunning:
		at := formatStamp(s.now())
		a["status"] = ActionFailed
		a["completedDateTime"] = at
		a["lastActionDateTime"] = at
		a["errorInfo"] = map[string]any{"code": 0, "subcode": 0, "message": canceledMessage}
		states, _ := a["states"].([]any)
		a["states"] = append(states, map[string]any{
			"appId": nullIfEmpty(x.principal.appID), "status": ActionFailed,
			"updatedDateTime": at, "user": s.actor(x),
		})
	default:
		if !wasCanceled(a) {
			s.mu.Unlock()
			x.invalid(fmt.Sprintf("Security action '%s' is %v and can no longer be canceled.", id, a["status"]))
			return
		}
	}
	s.mu.Unlock()
	x.writeEmpty(http.StatusOK)
}

func wasCanceled(a map[string]any) bool {
	info, _ := a["errorInfo"].(map[string]any)
	return a["status"] == ActionFailed && info != nil && info["message"] == canceledMessage
}

// visibleAction returns the action id if tenant may see it. The caller holds s.mu.
func (s *Server) visibleAction(tenant, id string) map[string]any {
	i, ok := s.actionIndex[id]
	if !ok || !actionVisible(s.actions[i], tenant) {
		return nil
	}
	return s.actions[i]
}

func actionVisible(a map[string]any, tenant string) bool {
	return tenant == "" || a["azureTenantId"] == tenant
}

// actionView is the single-entity response shape of an action.
func actionView(x *exchange, a map[string]any) map[string]any {
	v := make(map[string]any, len(a)+1)
	for k, val := range a {
		v[k] = val
	}
	v["@odata.context"] = x.root() + "/beta/$metadata#security/securityActions/$entity"
	return v
}

// validateAction checks a create body.
func validateAction(b map[string]any) error {
	for k := range b {
		switch k {
		case "@odata.type", "name", "actionReason", "parameters", "vendorInformation", "clientContext":
		default:
			return fmt.Errorf("the property '%s' does not exist on type 'microsoft.graph.securityAction' or cannot be set", k)
		}
	}
	if name, _ := b["name"].(string); name == "" {
		return fmt.Errorf("the property 'name' is required")
	}
	if v, ok := b["actionReason"]; ok && v != nil {
		if _, ok := v.(string); !ok {
			return fmt.Errorf("the property 'actionReason' must be a string")
		}
	}
	if v, ok := b["clientContext"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("the property 'clientContext' must be a string")
		}
		if n := utf8.RuneCountInString(s); n > maxClientContext {
			return fmt.Errorf("the property 'clientContext' is %d characters long; at most %d are allowed", n, maxClientContext)
		}
	}
	params, _ := b["parameters"].([]any)
	if len(params) == 0 {
		return fmt.Errorf("the property 'parameters' is required and must be a non-empty array of {name, value}")
	}
	for i, p := range params {
		kv, _ := p.(map[string]any)
		name, nameOK := kv["name"].(string)
		_, valueOK := kv["value"].(string)
		extra := false
		for k := range kv {
			extra = extra || (k != "name" && k != "value" && k != "@odata.type")
		}
		if kv == nil || !nameOK || name == "" || !valueOK || extra {
			return fmt.Errorf("parameters[%d] must be an object with a non-empty string 'name' and a string 'value'", i)
		}
	}
	vendor, _ := b["vendorInformation"].(map[string]any)
	for _, k := range []string{"provider", "vendor"} {
		if s, _ := vendor[k].(string); s == "" {
			return fmt.Errorf("the property 'vendorInformation.%s' is required", k)
		}
	}
	return nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
