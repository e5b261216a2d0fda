package incident

import "encoding/json"

// link sets each evidence item's Type from its "@odata.type" and remembers the
// document the incident came from, so Evidence.Get can read properties outside
// the typed union without the decoder keeping a copy of every item.
func (inc *Incident) link(doc []byte, path string) {
	inc.raw, inc.rawPath = doc, path
	for ai, a := range inc.Alerts {
		if a == nil {
			continue
		}
		for ei, e := range a.Evidence {
			if e == nil {
				continue
			}
			e.Type = ShortType(e.ODataType)
			e.owner, e.alert, e.index = inc, ai, ei
		}
	}
}

// rawEvidence returns the JSON object of evidence ei of alert ai, decoded
// generically, or nil.
func (inc *Incident) rawEvidence(ai, ei int) map[string]any {
	inc.treeOnce.Do(func() {
		var doc map[string]any
		if unmarshal(inc.raw, &doc) != nil {
			return
		}
		if inc.rawPath != "" {
			doc, _ = doc[inc.rawPath].(map[string]any)
		}
		inc.tree = doc
	})
	alerts, _ := inc.tree["alerts"].([]any)
	if ai >= len(alerts) {
		return nil
	}
	alert, _ := alerts[ai].(map[string]any)
	evidence, _ := alert["evidence"].([]any)
	if ei >= len(evidence) {
		return nil
	}
	obj, _ := evidence[ei].(map[string]any)
	return obj
}

// JSON returns the incident as Graph sent it when it was decoded from a
// document of its own (a GET or list response), else encodes the model.
func (inc *Incident) JSON() ([]byte, error) {
	if inc.raw != nil && inc.rawPath == "" {
		return inc.raw, nil
	}
	return json.Marshal(inc)
}

// Size is the length of the JSON document the incident was decoded from
// (the whole event for an incident an event carried), or 0 for one built
// in code.
func (inc *Incident) Size() int { return len(inc.raw) }
