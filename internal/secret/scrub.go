package secret

import "strings"

// Scrubber replaces known secret values in texts with [REDACTED]. Values
// shorter than four characters are left alone (they would mangle ordinary
// words), except user information followed by @. The zero Scrubber changes
// nothing.
type Scrubber struct{ r *strings.Replacer }

// NewScrubber returns a Scrubber of values.
func NewScrubber(values ...string) Scrubber {
	var pairs []string
	for _, s := range values {
		if len(s) >= 4 || strings.HasSuffix(s, "@") {
			pairs = append(pairs, s, Redacted)
		}
	}
	return Scrubber{strings.NewReplacer(pairs...)}
}

// Text returns t with every secret replaced.
func (s Scrubber) Text(t string) string {
	if s.r == nil {
		return t
	}
	return s.r.Replace(t)
}

// Err returns err with the secrets scrubbed from its text; errors.Is and
// errors.As still see the original chain. A nil err stays nil.
func (s Scrubber) Err(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := s.Text(msg); clean != msg {
		return scrubbedError{msg: clean, err: err}
	}
	return err
}

// scrubbedError prints its cleaned text and unwraps to the original error.
type scrubbedError struct {
	msg string
	err error
}

func (e scrubbedError) Error() string { return e.msg }
func (e scrubbedError) Unwrap() error { return e.err }
