package graphfake

import "fmt"

// propKind is how a $filter may compare a property.
type propKind int

const (
	kindNone propKind = iota // not filterable
	kindDate                 // Edm.DateTimeOffset: eq, ge, gt, le, lt with an unquoted instant
	kindText                 // Edm.String or enum: eq with a quoted literal or null
)

// filterSchema is what one resource allows in $filter. Implementations are stateless.
type filterSchema interface {
	// propKind classifies prop; kindNone rejects it.
	propKind(prop string) propKind
	// checkText returns an error naming prop when the quoted literal v cannot be
	// compared with the text property prop (for example an enum member that does not
	// exist).
	checkText(prop, v string) error
	// foldCase reports whether text comparisons on prop ignore case.
	foldCase(prop string) bool
}

// incidentSchema is the $filter schema of security/incidents: createdDateTime and
// lastUpdateDateTime are dates; status, severity, classification and determination are
// camelCase enums; assignedTo is any string. Strings compare exactly.
type incidentSchema struct{}

func (incidentSchema) propKind(prop string) propKind {
	switch prop {
	case "createdDateTime", "lastUpdateDateTime":
		return kindDate
	case "status", "severity", "classification", "determination", "assignedTo":
		return kindText
	}
	return kindNone
}

func (incidentSchema) checkText(prop, v string) error {
	if prop == "assignedTo" || validEnum(prop, v) {
		return nil
	}
	return fmt.Errorf("the string '%s' is not a valid enumerated type constant for %s", v, prop)
}

func (incidentSchema) foldCase(string) bool { return false }
