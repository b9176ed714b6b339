package config

import (
	"fmt"
	"regexp"
	"time"
)

// versionRe is what a release version may be: it names a folder under
// remote_base/releases on every host.
var versionRe = regexp.MustCompile(`^[0-9A-Za-z._-]{1,64}$`)

// NewVersion names a release after t in UTC, as YYYYMMDDhhmmss.
func NewVersion(t time.Time) string {
	return t.UTC().Format("20060102150405")
}

// ValidateVersion checks a version given with --version: 1 to 64 of
// [0-9A-Za-z._-], not "." or "..", and not starting with '-' so that it can
// never be read as an option.
func ValidateVersion(v string) error {
	bad := func(msg string) error {
		return &Error{Field: "--version", Msg: msg}
	}
	switch {
	case v == "":
		return bad("must not be empty")
	case len(v) > 64:
		return bad(fmt.Sprintf("must be at most 64 characters, got %d", len(v)))
	case !versionRe.MatchString(v):
		return bad(fmt.Sprintf("must be letters, digits, '.', '_' and '-', got %q", v))
	case v == "." || v == "..":
		return bad(fmt.Sprintf("must not be %q", v))
	case v[0] == '-':
		return bad(fmt.Sprintf("must not start with '-', got %q", v))
	}
	return nil
}
