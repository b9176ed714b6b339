//go:build integration

package e2e

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/remote"
)

// Published ports 18220-18239 belong to the remote_base safety tests.
const portSpaces = 18220

// spacesDir is the last element of the test's remote_base: spaces, a
// quote, a variable, a command substitution, backticks, a separator, an
// ampersand and a glob. All valid for remote_base (printable, absolute,
// clean) and a plain YAML scalar; any of them unquoted in a remote command
// would split the path, expand or run something.
const spacesDir = "my app's $HOME dir; $(id) `id` & *"

// TestRemoteBaseWithSpaces deploys, crashes and rolls back, and prunes
// under a remote_base full of shell syntax, and checks on the host after
// each step that the release folders and the current link are exactly
// where they belong, and that nothing appeared next to remote_base.
func TestRemoteBaseWithSpaces(t *testing.T) {
	t.Parallel()
	// Registered before newService, so it runs after the service's own
	// cleanup (which shows the state on a failure, then removes the base):
	// it removes the parent folder this test adds around the base.
	var parent string
	t.Cleanup(func() {
		if parent == "" || (t.Failed() && os.Getenv("HOIST_E2E_KEEP") != "") {
			return
		}
		if out, err := sshRun(1, "rm -rf -- "+remote.Quote(parent)); err != nil {
			t.Errorf("removing %s: %v\n%s", parent, err, out)
		}
	})
	s := newService(t, "spaces", portSpaces)
	parent = "/srv/e2e/" + s.name
	s.base = parent + "/" + spacesDir
	s.extra = "keep_releases: 3\n"

	// step deploys version and checks the host: current, the exact
	// release folders, one running container of image, the answer, and
	// remote_base and its parent holding nothing else.
	step := func(version string, a app, current, image string, releases ...string) result {
		t.Helper()
		var r result
		if version == current {
			r = s.mustDeploy(version, a)
		} else {
			r = s.deploy(version, a)
			r.want(t, 1)
			r.line(t, fmt.Sprintf("❌ Deployment of version %s failed! Rolled back to %s. ", version, current))
		}
		s.wantState(current, image, releases...)
		s.wantServes(current)
		names := []string{"current", ".hoist-lock"} // the lock file stays: see hoistOwn
		for _, rel := range releases {
			names = append(names, strings.TrimSuffix(rel, " (failed)"))
		}
		wantEntries(t, s.base, names...)
		wantEntries(t, parent, spacesDir)
		return r
	}

	step("v1", image("v1"), "v1", suite.env.Image("v1"), "v1")
	step("v2", image("v2"), "v2", suite.env.Image("v2"), "v1", "v2")
	step("v3", image("v3").crashing(), "v2", suite.env.Image("v2"), "v1", "v2", "v3 (failed)")
	// keep_releases 3 counts good releases, newest first by when they were
	// made current: after v4 they are v4, v2 (current again after v3's
	// rollback), v1; the failed v3 is newer than v1 and stays. After v5:
	// v5, v4, v2; v3 and v1 are older than v2, and go.
	step("v4", image("v1"), "v4", suite.env.Image("v1"), "v1", "v2", "v3 (failed)", "v4")
	wantPruned(t, s, `{}`)
	step("v5", image("v2"), "v5", suite.env.Image("v2"), "v2", "v4", "v5")
	wantPruned(t, s, `"removed":["v3","v1"]`)

	// Nothing leaked into the deploy user's home, where an unquoted cd
	// that failed would have left the commands running.
	var words []string
	for _, w := range strings.Fields(spacesDir) {
		words = append(words, remote.Quote(w))
	}
	out := ssh(t, 1, "cd && for f in "+strings.Join(words, " ")+" v1 v2 v3 v4 v5 current .current.tmp; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then printf '%s\\n' \"$f\"; fi; done")
	if strings.TrimSpace(out) != "" {
		t.Fatalf("the deploy user's home holds %q: a command ran outside remote_base", out)
	}
}

// wantEntries checks that dir on h1 holds exactly names (files, folders
// and links, hidden ones too): no temporary link, upload leftover, or
// fragment of a split path.
func wantEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	out := ssh(t, 1, "find "+remote.Quote(dir)+" -mindepth 1 -maxdepth 1 -printf '%f\\0'")
	got := strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
	if out == "" {
		got = nil
	}
	names = slices.Clone(names)
	sort.Strings(got)
	sort.Strings(names)
	if !slices.Equal(got, names) {
		t.Fatalf("h1: %s holds %q, want exactly %q", dir, got, names)
	}
}

// wantPruned checks what the last deploy's prune step removed.
func wantPruned(t *testing.T, s *service, want string) {
	t.Helper()
	res := s.deployHistory().activityResults("PruneReleases")
	if len(res) != 1 || !strings.Contains(res[0], want) {
		t.Fatalf("PruneReleases results %q, want one with %s", res, want)
	}
}
