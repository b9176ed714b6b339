package commands

import (
	"path"

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
// records are NUL-terminated "TYPE\tMTIME\tTARGET\tPATH" (the path last: a
// stray name holding a tab cannot shift the fields); ParseState reads them.
// A missing remote_base makes cd fail: that is a host with no releases.
func (l Layout) Inspect() remote.Command {
	if err := l.checkBase(); err != nil {
		panic("commands: " + err.Error())
	}
	return remote.Cmd("find", ".", "-mindepth", "1", "-maxdepth", "2",
		"(", "-path", "./*/"+FailedMarker, "-o", "-path", "./*/"+GoodMarker, "-o", "-path", "./*/"+ActivatedMarker,
		"-o", "!", "-path", "./*/*", ")",
		"-printf", `%y\t%T@\t%l\t%P\0`).In(l.Base)
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
// The release must exist, so current never points at nothing. The
// activation marker then records when, which orders releases.
func (l Layout) SwitchCurrent(version string) remote.Command {
	dir := l.mustRelease(version)
	return remote.Cmd("test", "-d", version).
		And("ln", "-sfn", version, tmpLinkName).
		And("mv", "-T", tmpLinkName, CurrentLink).
		And("touch", "--", dir+"/"+ActivatedMarker).
		In(l.Base)
}

// MarkGood records that version passed its running check, with the
// services that were checked, one a line (none: every service): a later
// rollback checks the release by its own services, not the new one's.
func (l Layout) MarkGood(version string, services []string) remote.Command {
	dir := l.mustRelease(version)
	body := ""
	for _, s := range services {
		body += s + "\n"
	}
	mark := dir + "/" + GoodMarker
	return remote.Cmd("rm", "-f", "--", dir+"/"+FailedMarker).
		And("tee", "--", mark+".tmp").
		And("mv", "-T", "--", mark+".tmp", mark).
		WithStdin([]byte(body))
}

// GoodServices prints the services recorded by MarkGood (exit 1: no mark).
func (l Layout) GoodServices(version string) remote.Command {
	return remote.Cmd("cat", "--", l.mustRelease(version)+"/"+GoodMarker)
}

// MarkFailed records that version failed, so no rollback ever picks it.
func (l Layout) MarkFailed(version string) remote.Command {
	dir := l.mustRelease(version)
	return remote.Cmd("touch", "--", dir+"/"+FailedMarker).And("rm", "-f", "--", dir+"/"+GoodMarker)
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

// Locked runs c holding the service's lock on the host (flock(1) on
// remote_base/.hoist-lock, remote.Command.WithLock), so two attempts of a
// step — a retry started while a first attempt still runs — never
// interleave their commands on one host: the second waits for the first
// to end, then runs. The lock dies with the command's processes; one held
// past remote.LockWaitSeconds exits LockBusyCode.
func (l Layout) Locked(c remote.Command) remote.Command {
	if err := l.checkBase(); err != nil {
		panic("commands: " + err.Error())
	}
	return c.WithLock(path.Join(l.Base, lockName))
}
