package actions

import "errors"

// maxCommentLen bounds a comment's length; Defender's own limit is not
// published, and a runaway template should fail at evaluation, not at Graph.
const maxCommentLen = 30000

// Comment posts a comment on an incident, once per incident for the same rule
// and text.
type Comment struct{}

// Spec implements Action.
func (Comment) Spec() Spec {
	return Spec{
		Name: "comment",
		Doc:  "Post a comment on the incident (POST comments); the same text from the same rule is posted once per incident.",
		Params: []Param{{Name: "comment", Kind: String, Required: true, NonEmpty: true, Item: checkComment,
			Doc: "the comment text; {{ }} templates render into it"}},
		Shorthand: "comment",
		Example:   `comment: "Closed by {{ rule.id }}"`,
	}
}

func checkComment(s string) error {
	if len(s) > maxCommentLen {
		return errors.New("longer than 30000 bytes")
	}
	return nil
}

// Effects implements Effector: one comment.
func (Comment) Effects(t Target, rule string, p Params) []Effect {
	text := p.String("comment")
	return []Effect{{
		Action:  "comment",
		Rule:    rule,
		Key:     commentKey(t, rule, text),
		Comment: text,
	}}
}
