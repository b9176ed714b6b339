package commands

import (
	"fmt"
	"path"
	"strings"

	"github.com/hoist-dev/hoist/remote"
)

// LogsDir is where a failed release's container logs are kept, inside its
// release folder, so they outlive the rollback that removes the containers.
const LogsDir = ".hoist-logs"

// toFile is the one fixed script SaveLogs runs: it sends the output of the
// command after the file name into the file (written aside, then renamed),
// without any value of hoist's being parsed by the shell: the file and the
// command are plain arguments.
const toFile = `f=$1; shift; "$@" >"$f.tmp" 2>&1; mv -f -- "$f.tmp" "$f"`

// SavedLogs is the file SaveLogs writes for name (a timestamp).
func (c Compose) SavedLogs(name string) string {
	return path.Join(c.Layout.mustRelease(c.Version), LogsDir, name+".log")
}

// SaveLogs keeps the project's container logs (both streams, with
// timestamps) in the release folder before a rollback removes them.
func (c Compose) SaveLogs(name string) remote.Command {
	if !IsVersion(name) {
		panic(fmt.Sprintf("commands: log name %q is not a plain name", name))
	}
	file := c.SavedLogs(name)
	logs := c.cmd("logs", "--no-color", "--timestamps")
	return remote.Cmd("mkdir", "-p", "--", path.Dir(file)).
		And(append([]string{"sh", "-c", toFile, "sh", file}, logs.Steps[0]...)...).
		In(logs.Dir)
}

// ReadEnvFiles prints the release's env files (paths relative to the
// release folder), so values from them can be kept out of captured log
// lines. A missing file is skipped.
func (c Compose) ReadEnvFiles(files []string) remote.Command {
	dir := c.Layout.mustRelease(c.Version)
	argv := []string{"cat", "--"}
	for _, f := range files {
		p := path.Clean(f)
		if p == "." || path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") || strings.ContainsAny(p, "\x00\n") {
			panic(fmt.Sprintf("commands: env file %q is not a path inside the release", f))
		}
		argv = append(argv, path.Join(dir, p))
	}
	return remote.Cmd(argv...)
}
