package commands

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"

	"github.com/hoist-dev/hoist/remote"
)

// Healthcheck is a container's healthcheck as docker inspect shows it
// (.Config.Healthcheck: the compose file's over the image's). Durations
// are nanoseconds in docker's JSON, as time.Duration reads them; zero is
// Docker's default.
type Healthcheck struct {
	Test        []string
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	Retries     int
}

// Docker's defaults for a healthcheck that leaves them out.
const (
	DefaultHealthcheckTimeout = 30 * time.Second
	DefaultHealthcheckRetries = 3
)

// Argv is what the healthcheck runs in the container, the way Docker
// runs it: ["CMD", args...] is args, exec'd without a shell (images
// without one work); ["CMD-SHELL", cmd] is /bin/sh -c cmd. nil: nothing
// to run (no healthcheck, ["NONE"], an empty test).
func (h *Healthcheck) Argv() []string {
	if h == nil || len(h.Test) < 2 {
		return nil
	}
	switch h.Test[0] {
	case "CMD":
		return h.Test[1:]
	case "CMD-SHELL":
		if len(h.Test) == 2 && h.Test[1] != "" {
			return []string{"/bin/sh", "-c", h.Test[1]}
		}
	}
	return nil
}

// TimeoutOrDefault is how long one run of the test may take.
func (h *Healthcheck) TimeoutOrDefault() time.Duration {
	if h == nil || h.Timeout <= 0 {
		return DefaultHealthcheckTimeout
	}
	return h.Timeout
}

// RetriesOrDefault is how many failures in a row make the container
// unhealthy, by Docker's count.
func (h *Healthcheck) RetriesOrDefault() int {
	if h == nil || h.Retries <= 0 {
		return DefaultHealthcheckRetries
	}
	return h.Retries
}

// HealthcheckTimedOut is the exit status of a RunHealthcheck whose test
// ran out of time (coreutils timeout's).
const HealthcheckTimedOut = 124

// RunHealthcheck runs argv (Healthcheck.Argv) in the container as
// Docker's own healthcheck would, with docker exec: the container's user,
// environment and working directory. It is bounded on the host by
// coreutils timeout, as Docker bounds it, not by cancelling the SSH
// command: the bound holds on the host whatever the connection does, a
// test that hangs is an ordinary exit status (HealthcheckTimedOut), and
// the session ends by itself instead of through a signal over SSH and a
// grace period. -k: the docker CLI is killed a second later if TERM did
// not end it. (Hosts already need GNU coreutils: mv -T, ln -sfn.)
func RunHealthcheck(id string, argv []string, timeout time.Duration) remote.Command {
	secs := strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64)
	return remote.Cmd(append([]string{"timeout", "-k", "1", secs, "docker", "exec", id}, argv...)...)
}

// parseHealthcheck reads {{json .Config.Healthcheck}}: null is none.
func parseHealthcheck(s string) *Healthcheck {
	var h *Healthcheck
	if json.Unmarshal([]byte(s), &h) != nil {
		return nil
	}
	return h
}

// HostNetworkIP is where a container on the host's network
// (network_mode: host) listens: the host's own loopback.
const HostNetworkIP = "127.0.0.1"

// parseIPs reads {{json .NetworkSettings.Networks}}: the container's
// addresses, IPv4 first, each kind by network name.
func parseIPs(s string) []string {
	var nets map[string]struct{ IPAddress, GlobalIPv6Address string }
	if json.Unmarshal([]byte(s), &nets) != nil {
		return nil
	}
	names := make([]string, 0, len(nets))
	for n := range nets {
		names = append(names, n)
	}
	sort.Strings(names)
	var v4, v6 []string
	for _, n := range names {
		switch a := nets[n]; {
		case n == "host":
			v4 = append(v4, HostNetworkIP)
		default:
			if a.IPAddress != "" {
				v4 = append(v4, a.IPAddress)
			}
			if a.GlobalIPv6Address != "" {
				v6 = append(v6, a.GlobalIPv6Address)
			}
		}
	}
	return append(v4, v6...)
}
