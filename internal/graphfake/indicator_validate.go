package graphfake

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
)

// Defender indicator enums, PascalCase as on the wire; matching is exact.
func indicatorTypes() []string {
	return []string{"FileSha1", "FileMd5", "CertificateThumbprint", "FileSha256", "IpAddress", "DomainName", "Url"}
}

func indicatorActions() []string {
	return []string{"Alert", "Warn", "Block", "Audit", "BlockAndRemediate", "AlertAndBlock", "Allowed"}
}

func indicatorSeverities() []string {
	return []string{"Informational", "Low", "Medium", "High"}
}

// indicatorEnum returns the members of the enum property prop, or nil.
func indicatorEnum(prop string) []string {
	switch prop {
	case "indicatorType":
		return indicatorTypes()
	case "action":
		return indicatorActions()
	case "severity":
		return indicatorSeverities()
	}
	return nil
}

// indicatorBodyProps are the properties a submit body may set.
func indicatorBodyProps() []string {
	return []string{"indicatorValue", "indicatorType", "action", "title", "description",
		"application", "expirationTime", "severity", "recommendedActions", "rbacGroupNames",
		"educateUrl", "generateAlert"}
}

// hexDigits is the length of the hex-encoded values of the hash-like indicator types.
func hexDigits(indicatorType string) int {
	switch indicatorType {
	case "FileSha256":
		return 64
	case "FileSha1", "CertificateThumbprint":
		return 40
	case "FileMd5":
		return 32
	}
	return 0
}

// indicatorKey identifies an indicator within a tenant for "submit or update": its type
// and its value, the value case-insensitive for hex (hash-like) types.
func indicatorKey(indicatorType, value string) string {
	if hexDigits(indicatorType) > 0 {
		value = strings.ToLower(value)
	}
	return indicatorType + "\x00" + value
}

// indicatorInput is a validated submit body.
type indicatorInput struct {
	fields  map[string]any // the body's properties, every one present (null when absent)
	key     string
	expires time.Time // zero: never
}

// parseIndicatorInput validates a "Submit or update indicator" body. Its errors name
// the offending property.
func parseIndicatorInput(b map[string]any) (indicatorInput, error) {
	known := indicatorBodyProps()
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			return indicatorInput{}, fmt.Errorf("the property '%s' does not exist on type 'Indicator'; known properties: %s",
				k, strings.Join(known, ", "))
		}
	}
	in := indicatorInput{fields: map[string]any{}}
	for _, k := range []string{"indicatorValue", "indicatorType", "action", "title", "description"} {
		v, err := stringProp(b, k)
		if err != nil {
			return in, err
		}
		if strings.TrimSpace(v) == "" {
			return in, fmt.Errorf("the property '%s' is required and must not be empty", k)
		}
		in.fields[k] = v
	}
	for _, k := range []string{"application", "severity", "recommendedActions", "educateUrl", "expirationTime"} {
		in.fields[k] = nil
		if v, ok := b[k]; ok && v != nil {
			s, err := stringProp(b, k)
			if err != nil {
				return in, err
			}
			in.fields[k] = s
		}
	}
	for _, k := range []string{"indicatorType", "action", "severity"} {
		if v, ok := in.fields[k].(string); ok && !slices.Contains(indicatorEnum(k), v) {
			return in, fmt.Errorf("the property '%s' has the invalid value '%s'; allowed values: %s",
				k, v, strings.Join(indicatorEnum(k), ", "))
		}
	}
	typ, value := in.fields["indicatorType"].(string), in.fields["indicatorValue"].(string)
	if err := checkIndicatorValue(typ, value); err != nil {
		return in, err
	}
	in.key = indicatorKey(typ, value)

	in.fields["generateAlert"] = false
	if v, ok := b["generateAlert"]; ok && v != nil {
		flag, isBool := v.(bool)
		if !isBool {
			return in, fmt.Errorf("the property 'generateAlert' must be a boolean")
		}
		in.fields["generateAlert"] = flag
	}
	if in.fields["action"] == "Audit" && in.fields["generateAlert"] != true {
		return in, fmt.Errorf("the property 'generateAlert' must be true when 'action' is Audit")
	}
	if err := in.readExpiration(); err != nil {
		return in, err
	}
	groups, err := stringArrayProp(b, "rbacGroupNames")
	if err != nil {
		return in, err
	}
	in.fields["rbacGroupNames"] = groups
	return in, nil
}

// readExpiration parses expirationTime (ISO 8601 with an offset; without one it is UTC)
// and rewrites it in UTC.
func (in *indicatorInput) readExpiration() error {
	s, ok := in.fields["expirationTime"].(string)
	if !ok {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t, err = time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC)
	}
	if err != nil {
		return fmt.Errorf("the property 'expirationTime' is not an ISO 8601 date-time such as 2026-12-31T00:00:00Z: %q", s)
	}
	in.expires = t.UTC()
	in.fields["expirationTime"] = in.expires.Format(time.RFC3339Nano)
	return nil
}

// checkIndicatorValue checks that value fits indicatorType: hex digits of the right
// length for hashes and thumbprints, an IP address, a host name without blanks, a URL
// without blanks.
func checkIndicatorValue(typ, value string) error {
	if n := hexDigits(typ); n > 0 {
		if len(value) != n || strings.Trim(value, "0123456789abcdefABCDEF") != "" {
			return fmt.Errorf("the property 'indicatorValue' is not a valid %s: %d hexadecimal digits are expected, got %q",
				typ, n, value)
		}
		return nil
	}
	switch typ {
	case "IpAddress":
		if _, err := netip.ParseAddr(value); err != nil {
			return fmt.Errorf("the property 'indicatorValue' is not a valid IpAddress: %q", value)
		}
	case "DomainName", "Url":
		if strings.ContainsAny(value, " \t\r\n") {
			return fmt.Errorf("the property 'indicatorValue' is not a valid %s: %q contains blanks", typ, value)
		}
	}
	return nil
}

// stringProp returns the string property k of b; absent or null is "required", another
// JSON type an error.
func stringProp(b map[string]any, k string) (string, error) {
	v, ok := b[k]
	if !ok || v == nil {
		return "", fmt.Errorf("the property '%s' is required and must not be empty", k)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("the property '%s' must be a string", k)
	}
	return s, nil
}

// stringArrayProp returns the optional array-of-strings property k ([] when absent).
func stringArrayProp(b map[string]any, k string) ([]any, error) {
	v, ok := b[k]
	if !ok || v == nil {
		return []any{}, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("the property '%s' must be an array of strings", k)
	}
	for i, e := range arr {
		if _, ok := e.(string); !ok {
			return nil, fmt.Errorf("the property '%s' must be an array of strings; element %d is not", k, i)
		}
	}
	return arr, nil
}
