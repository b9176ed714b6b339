package commands

import (
	"fmt"
	"strings"
)

// Verdict is what the containers of a release say about the deploy.
type Verdict int

const (
	Pending   Verdict = iota // still starting: keep polling
	Healthy                  // every container running, healthy where checked
	Crashed                  // a container exited, died or restarted: fail now
	Unhealthy                // running, but a healthcheck fails or has not passed yet
)

func (v Verdict) String() string {
	return [...]string{"pending", "healthy", "crashed", "unhealthy"}[v]
}

// Judge decides from one poll. A restart counts as a crash even when the
// container is running again: under a restart policy a crash loop is
// otherwise seen as "running" between crashes and missed.
func Judge(cs []Container) (Verdict, string) {
	if len(cs) == 0 {
		return Pending, "no containers yet"
	}
	var waiting, unwell []string
	for _, c := range cs {
		switch {
		case c.Status == "exited" || c.Status == "dead":
			return Crashed, fmt.Sprintf("container %s (service %s) %s with exit code %d", c.Name, c.Service, c.Status, c.ExitCode)
		case c.Status == "restarting" || c.RestartCount > 0:
			return Crashed, fmt.Sprintf("container %s (service %s) restarted %d time(s): crash loop (last exit code %d)", c.Name, c.Service, c.RestartCount, c.ExitCode)
		case c.Status != "running":
			waiting = append(waiting, fmt.Sprintf("%s is %s", c.Name, c.Status))
		case c.Health == "unhealthy":
			unwell = append(unwell, fmt.Sprintf("%s is running but unhealthy", c.Name))
		case c.Health == "starting":
			unwell = append(unwell, fmt.Sprintf("%s is running, health check still starting", c.Name))
		}
	}
	// A container not yet running outranks one that is unhealthy.
	if len(waiting) > 0 {
		return Pending, strings.Join(append(waiting, unwell...), "; ")
	}
	if len(unwell) > 0 {
		return Unhealthy, strings.Join(unwell, "; ")
	}
	return Healthy, ""
}
