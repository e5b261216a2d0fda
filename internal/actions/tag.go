package actions

import (
	"errors"
	"strings"
)

// Tag adds custom tags to an incident, keeping the ones it has.
type Tag struct{}

// Spec implements Action.
func (Tag) Spec() Spec {
	return Spec{
		Name: "tag",
		Doc:  "Add custom tags to the incident; its existing tags are kept (PATCH customTags).",
		Params: []Param{{Name: "tags", Kind: StringList, Required: true, NonEmpty: true, Item: checkTag,
			Doc: "a tag or a list of tags"}},
		Shorthand: "tags",
		Example:   "tag: [auto-triaged, ransomware]",
	}
}

func checkTag(s string) error {
	if strings.TrimSpace(s) != s {
		return errors.New("tag has leading or trailing spaces")
	}
	return nil
}

// Desire implements Patcher.
func (Tag) Desire(d *Desired, rule string, p Params) {
	d.addTags(p.List("tags"), rule)
}
