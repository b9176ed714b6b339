//go:build integration

package commands_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/internal/testbed"
	"github.com/hoist-dev/hoist/remote"
	"github.com/hoist-dev/hoist/sshexec"
)

// Issue 8 §5: two attempts of a step — a retry Temporal started while the
// first attempt still runs — must not interleave their commands on a host.
// Two locked three-step commands run at once over real SSH on h1; each
// step appends to a file, with a pause between: the file must hold one
// command's steps, then the other's, never a mix. Run without the lock,
// the same pair interleaves (checked below too, so the test can fail).
func TestLockedStepsNeverInterleave(t *testing.T) {
	env := testbed.Load(t)
	c, err := sshexec.New(sshexec.Config{User: env.User, IdentityFiles: []string{env.SSHKey}, KnownHostsFile: env.KnownHosts, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	host := env.Host(1)
	base := fmt.Sprintf("/srv/e2e/lock-%d", time.Now().UnixNano())
	l := commands.Layout{Base: base}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func(cmd remote.Command) {
		t.Helper()
		if res, err := c.Run(ctx, host, cmd); err != nil {
			t.Fatalf("%s: %v %s", cmd, err, res.Stderr)
		}
	}
	run(l.EnsureBase())
	defer run(remote.Cmd("rm", "-rf", "--", base))

	attempt := func(name string) remote.Command {
		step := func(i int) []string {
			return []string{"sh", "-c", `echo "$1" >>"$2"; sleep 0.3`, "sh", fmt.Sprintf("%s%d", name, i), base + "/log"}
		}
		return remote.Command{Dir: base, Steps: [][]string{step(1), step(2), step(3)}}
	}
	both := func(wrap func(remote.Command) remote.Command) string {
		run(remote.Cmd("rm", "-f", "--", base+"/log"))
		var wg sync.WaitGroup
		for _, name := range []string{"a", "b"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				run(wrap(attempt(name)))
			}()
		}
		wg.Wait()
		res, err := c.Run(ctx, host, remote.Cmd("cat", "--", base+"/log"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(res.Stdout), " ")
	}

	if got := both(l.Locked); got != "a1 a2 a3 b1 b2 b3" && got != "b1 b2 b3 a1 a2 a3" {
		t.Fatalf("locked attempts interleaved on the host: %s", got)
	}
	if got := both(func(c remote.Command) remote.Command { return c }); got == "a1 a2 a3 b1 b2 b3" || got == "b1 b2 b3 a1 a2 a3" {
		t.Fatalf("unlocked attempts did not interleave (%s): the check above proves nothing", got)
	}
}
