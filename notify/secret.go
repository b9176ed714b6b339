package notify

import (
	"fmt"
	"log/slog"
)

const redacted = "[redacted]"

// Secret is a value that must never be shown: a webhook URL carrying a
// token, a signing secret. Every way fmt, encoding/json and log/slog print
// it gives [redacted]; Reveal is the one way to the value.
//
// The value sits behind a pointer so that even where fmt cannot call
// Format (a Secret in an unexported struct field printed with %+v), it
// prints an address, not the value.
type Secret struct{ v *string }

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{v: &v} }

// Reveal returns the value, for the one place that needs it: the request.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero says whether no value is set.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return `notify.Secret("` + redacted + `")` }

// Format makes every verb (%v, %+v, %#v, %s, %q, %x, ...) print [redacted].
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, redacted)
}

func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (s Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
