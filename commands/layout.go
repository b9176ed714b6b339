// Package commands builds the exact remote commands hoist runs on a host.
// Builders are pure: they decide what runs; activities decide where and
// when, run them through the SSH executor and interpret the results.
package commands

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/hoist-dev/hoist/remote"
)

// Names of the entries hoist keeps under remote_base and inside releases.
const (
	CurrentLink = "current"
	// Markers inside a release folder: what hoist learnt about it there.
	FailedMarker    = ".hoist-failed"     // failed its running check
	GoodMarker      = ".hoist-good"       // passed its running check; lists the services checked
	ActivatedMarker = ".hoist-current-at" // its mtime: when hoist last made the release current
	tmpLinkName     = ".current.tmp"
	lockName        = ".hoist-lock" // flock(1) file serialising mutating steps of the service
	// LockBusyCode is the exit status of a locked command that waited
	// too long for another step of the same service on the host.
	LockBusyCode = remote.LockBusyCode
)

var versionRE = regexp.MustCompile(`^[0-9A-Za-z._-]{1,64}$`)

// IsVersion reports whether name can be a release folder: the same rule the
// CLI applies to --version, so junk next to releases is never touched. A
// name starting with '-' is refused: it would be read as an option where it
// is a relative operand (ln -sfn -t.. would link outside remote_base). A
// name starting with '.' is hoist's own (.current.tmp, an interrupted
// upload's .V.tmp-X): never a release to count, keep or roll back to.
func IsVersion(name string) bool {
	return versionRE.MatchString(name) && name != CurrentLink && name[0] != '-' && name[0] != '.'
}

// Layout is where one service lives on a host.
type Layout struct {
	Base string // remote_base: absolute and clean
}

// Check refuses a remote_base hoist must not act under: activities call
// it on their input before any command is built.
func (l Layout) Check() error { return l.checkBase() }

var projectRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// CheckProject refuses a compose project name docker compose would
// reject or read as an option.
func CheckProject(name string) error {
	if !projectRE.MatchString(name) {
		return fmt.Errorf("service %q is not a compose project name (lowercase letters, digits, '_' and '-')", name)
	}
	return nil
}

var serviceNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$`)

// CheckServiceName refuses a compose service name that could be read as
// an option or is not one compose accepts.
func CheckServiceName(name string) error {
	if !serviceNameRE.MatchString(name) {
		return fmt.Errorf("compose service %q is not a service name", name)
	}
	return nil
}

// checkBase refuses any base a removal or rename could misuse.
func (l Layout) checkBase() error {
	b := l.Base
	switch {
	case b == "" || !path.IsAbs(b):
		return fmt.Errorf("remote_base %q is not an absolute path", b)
	case path.Clean(b) != b:
		return fmt.Errorf("remote_base %q is not a clean path", b)
	case b == "/":
		return fmt.Errorf("remote_base must not be /")
	case strings.ContainsAny(b, "\x00\n\r"):
		return fmt.Errorf("remote_base %q contains a control character", b)
	}
	return nil
}

// Release is the folder of one release; version must be valid.
func (l Layout) Release(version string) (string, error) {
	if err := l.checkBase(); err != nil {
		return "", err
	}
	if !IsVersion(version) {
		return "", fmt.Errorf("invalid release version %q", version)
	}
	return path.Join(l.Base, version), nil
}

// mustRelease is for builders whose inputs were validated at the edge; a
// bad value here is a programming error, never a path to act on.
func (l Layout) mustRelease(version string) string {
	p, err := l.Release(version)
	if err != nil {
		panic("commands: " + err.Error())
	}
	return p
}
