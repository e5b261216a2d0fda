package rules

import (
	"reflect"
	"regexp"
	"strings"

	"github.com/graphsoar/graphsoar/internal/incident"
)

var (
	noFieldRe     = regexp.MustCompile(`^type (\S+) has no field (\w+)`)
	unknownNameRe = regexp.MustCompile(`^unknown name (\w+)`)
)

// envNames are the names an expression may start with.
var envNames = []string{"incident", "previous", "event", "rule", "lists", "changed", "now",
	"devices", "users", "files", "fileHashes", "ips", "urls", "evidence"}

// hint adds a "did you mean" to expr's messages about misspelt fields and names.
func hint(msg string) string {
	if m := noFieldRe.FindStringSubmatch(msg); m != nil {
		if t := modelType(m[1]); t != nil {
			return msg + didYouMean(m[2], exprFields(t))
		}
	}
	if m := unknownNameRe.FindStringSubmatch(msg); m != nil {
		return msg + didYouMean(m[1], envNames)
	}
	if strings.HasPrefix(msg, "expected bool") {
		return "the condition must be true or false: " + msg
	}
	return msg
}

// modelType finds a type of the expression environment by the name expr
// prints ("incident.Alert").
func modelType(name string) reflect.Type {
	for _, v := range []any{incident.Incident{}, incident.Alert{}, incident.Evidence{}, incident.Comment{},
		incident.FileDetails{}, incident.UserAccount{}, incident.LoggedOnUser{}, incident.VMMetadata{},
		incident.Stream{}, incident.GeoLocation{}, incident.IPRef{}, incident.Sender{}, EventInfo{}, RuleInfo{}} {
		if t := reflect.TypeOf(v); t.String() == name {
			return t
		}
	}
	return nil
}

func exprFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("expr"); tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}
