//go:build integration

package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// Case 10: two hosts, only the second fails: both end on the previous
// release, both serve it.
func TestTwoHostsSecondFails(t *testing.T) {
	t.Parallel()
	s := newService(t, "twohosts", portTwoHosts, 1, 2)
	s.mustDeploy("v1", image("v1"))
	s.wantState("v1", suite.env.Image("v1"), "v1")
	s.wantServes("v1")

	// v2 publishes a second port; on h2 only, another container holds it,
	// so v2's compose up fails there and only there. (The engines run with
	// --bridge none: a container publishes ports only on a network of its
	// own.)
	blocker := s.name + "-blocker"
	ssh(t, 2, fmt.Sprintf("docker network create %[1]s >/dev/null && docker run --detach --name %[1]s --network %[1]s --publish %[2]d:8080 %[3]s",
		blocker, portTwoHostsBlocked, suite.env.Image("v1")))
	if got, err := getEventually(fmt.Sprintf("http://%s:%d/", suite.env.Host(2), portTwoHostsBlocked), "v1"); err != nil || got != "v1" {
		t.Fatalf("the blocker on h2 does not hold port %d: %q, %v", portTwoHostsBlocked, got, err)
	}
	t.Cleanup(func() {
		if out, err := sshRun(2, fmt.Sprintf("docker rm --force %[1]s && docker network rm %[1]s", blocker)); err != nil {
			t.Errorf("removing %s on h2: %v\n%s", blocker, err, out)
		}
	})
	v2 := image("v2")
	v2.ports = []int{portTwoHostsBlocked}

	r := s.deploy("v2", v2)
	r.want(t, 1)
	r.line(t, "❌ Deployment of version v2 failed! Rolled back to v1. Cause: host h2, step up: compose up failed; the containers: ")
	// The cause carries the tail of compose's stderr, over several lines.
	wantContains(t, "stdout", r.stdout, "port is already allocated")
	// Both hosts were rolled back, the one that failed first.
	for _, h := range []string{"h2", "h1"} {
		for _, step := range []string{"rollback: switch current to v1", "rollback: up v1", "rollback: verify v1 running"} {
			if !hasStep(r.stdout, h, step) {
				t.Fatalf("no successful step %q on %s in the output\n%s", step, h, r)
			}
		}
	}
	// v2 failed on h2 and is marked there; on h1 it passed its check and
	// was rolled back with the fleet: not marked failed there.
	for h, want := range map[int]string{1: "v1,v2", 2: "v1,v2 (failed)"} {
		if st := s.state(h); st.current != "v1" || strings.Join(st.releases, ",") != want {
			t.Fatalf("h%d after the rollback: current %q, releases %q; want v1 and %s", h, st.current, st.releases, want)
		}
	}
	s.wantServes("v1")
}

// hasStep reports whether the deploy's live output shows step done on host.
func hasStep(stdout, host, step string) bool {
	for _, l := range outLines(stdout) {
		f := strings.Fields(l)
		if len(f) > 2 && f[0] == "✓" && f[1] == host && strings.Contains(l, " "+step+" ") {
			return true
		}
	}
	return false
}
