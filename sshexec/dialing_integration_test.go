//go:build integration

package sshexec

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testbed"
	"github.com/hoist-dev/hoist/remote"
)

// With a single dial slot, every host is still reached when all are asked
// for at once, directly or through a jump host (whose own dial needs the
// slot too).
func TestIntegrationMaxDialingOne(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	cfgFile := writeFile(t, "config", fmt.Sprintf(`
Host jump
  HostName %s
Host via-jump-2
  HostName %s
  ProxyJump jump
Host via-jump-3
  HostName %s
  ProxyJump jump
Host *
  User %s
  IdentityFile %s
  IdentitiesOnly yes
`, env.Host(1), env.Host(2), env.Host(3), env.User, env.SSHKey))
	c := tbClient(t, env, func(cfg *Config) {
		cfg.MaxDialing = 1
		cfg.SSHConfigFile = cfgFile
		cfg.User = ""
		cfg.IdentityFiles = nil
	})
	hosts := append(append([]string{}, env.Hosts...), "via-jump-2", "via-jump-3")
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Run(ctxFor(t, 30*time.Second), h, remote.Cmd("true")); err != nil {
				t.Errorf("%s: %v", h, err)
			}
		}()
	}
	wg.Wait()
	// h1..h3 directly and h2, h3 through h1; the jump host is h1's
	// connection, shared.
	if s := c.Stats(); s.Dials != 5 || s.Open != 5 {
		t.Errorf("stats %+v, want 5 connections dialed once each and open", s)
	}
}
