package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewVersion(t *testing.T) {
	ny := time.FixedZone("EST", -5*3600)
	got := NewVersion(time.Date(2025, 11, 21, 19, 4, 5, 999, ny))
	if got != "20251122000405" {
		t.Fatalf("NewVersion = %q, want the UTC time 20251122000405", got)
	}
	if err := ValidateVersion(got); err != nil {
		t.Fatalf("NewVersion gave an invalid version: %v", err)
	}
}

func TestValidateVersion(t *testing.T) {
	good := []string{"20251122000405", "v1.2.3", "release_7", "a", "1.0-rc.1", "...", "a..b", strings.Repeat("x", 64)}
	for _, v := range good {
		if err := ValidateVersion(v); err != nil {
			t.Errorf("ValidateVersion(%q) = %v", v, err)
		}
	}
	bad := []string{"", ".", "..", "a/b", "/abs", "a b", "$(x)", "`x`", "a;b", "a\nb", "a\x00b", "-rf", "é", strings.Repeat("x", 65)}
	for _, v := range bad {
		err := ValidateVersion(v)
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("ValidateVersion(%q) = %v, want a *config.Error", v, err)
			continue
		}
		if ce.Field != "--version" || !strings.HasPrefix(err.Error(), "--version: ") {
			t.Errorf("ValidateVersion(%q) = %q, does not name --version", v, err)
		}
	}
}
