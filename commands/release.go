package commands

import (
	"github.com/hoist-dev/hoist/remote"
)

// EnsureBase creates remote_base when missing.
func (l Layout) EnsureBase() remote.Command {
	if err := l.checkBase(); err != nil {
		panic("commands: " + err.Error())
	}
	return remote.Cmd("mkdir", "-p", "--", l.Base)
}

// Inspect lists remote_base in one round trip: every top-level entry with
// its type and link target, and the failed markers inside releases. Output
// records are NUL-terminated "TYPE\tPATH\tTARGET"; ParseState reads them.
// A missing remote_base makes cd fail: that is a host with no releases.
func (l Layout) Inspect() remote.Command {
	if err := l.checkBase(); err != nil {
		panic("commands: " + err.Error())
	}
	return remote.Cmd("find", ".", "-mindepth", "1", "-maxdepth", "2",
		"(", "-path", "./*/"+FailedMarker, "-o", "!", "-path", "./*/*", ")",
		"-printf", `%y\t%P\t%l\0`).In(l.Base)
}

// BaseExists exits 0 when remote_base is a directory, 1 when it is not.
func (l Layout) BaseExists() remote.Command {
	if err := l.checkBase(); err != nil {
		panic("commands: " + err.Error())
	}
	return remote.Cmd("test", "-d", l.Base)
}

// SwitchCurrent points current at version atomically: a new link under a
// temporary name, then rename(2) over current (mv -T). ln -sfn on current
// itself would unlink first and leave a moment with no current at all.
// The release must exist, so current never points at nothing.
func (l Layout) SwitchCurrent(version string) remote.Command {
	l.mustRelease(version)
	return remote.Cmd("test", "-d", version).
		And("ln", "-sfn", version, tmpLinkName).
		And("mv", "-T", tmpLinkName, CurrentLink).
		In(l.Base)
}

// MarkFailed records that version failed, so no rollback ever picks it.
func (l Layout) MarkFailed(version string) remote.Command {
	return remote.Cmd("touch", "--", l.mustRelease(version)+"/"+FailedMarker)
}

// ClearFailed removes the failed mark when the version later succeeds.
func (l Layout) ClearFailed(version string) remote.Command {
	return remote.Cmd("rm", "-f", "--", l.mustRelease(version)+"/"+FailedMarker)
}

// RemoveReleases deletes release folders. Every path is remote_base joined
// with a validated version name, so nothing outside remote_base, and never
// remote_base itself, can be removed whatever the input.
func (l Layout) RemoveReleases(versions ...string) remote.Command {
	argv := []string{"rm", "-rf", "--"}
	for _, v := range versions {
		argv = append(argv, l.mustRelease(v))
	}
	return remote.Cmd(argv...)
}
