package cli

import (
	"fmt"
	"path"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/hoist-dev/hoist/config"
)

// hostsFlag limits a deploy or rollback to some hosts: a hand-picked
// canary, a hotfix. The lock stays the service and environment's.
var hostsFlag = &ucli.StringFlag{Name: "hosts", Usage: "only these hosts: comma-separated names or globs (h1,web-*), matched against each host's name as hoist shows it and its address; the others are not touched"}

// maxHostsPattern is what the workflow accepts as DeployInput.Limited.
const maxHostsPattern = 200

// limitHosts keeps the hosts of hosts that pattern names, in config
// order. Every item of the pattern must match some host: a typo in a
// hand-picked list must not silently leave a host out.
func limitHosts(hosts []config.Host, pattern string) ([]config.Host, error) {
	if len(pattern) > maxHostsPattern {
		return nil, Usagef("--hosts: at most %d bytes, got %d", maxHostsPattern, len(pattern))
	}
	var items []string
	for _, it := range strings.Split(pattern, ",") {
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, it)
		}
	}
	if len(items) == 0 {
		return nil, Usagef("--hosts %q names no host; the hosts are: %s", pattern, hostList(hosts))
	}
	used := make([]bool, len(items))
	var kept []config.Host
	for _, h := range hosts {
		match := false
		for i, it := range items {
			ok, err := hostMatches(h, it)
			if err != nil {
				return nil, Usagef("--hosts: %q is not a valid glob (%v)", it, err)
			}
			if ok {
				used[i], match = true, true
			}
		}
		if match {
			kept = append(kept, h)
		}
	}
	if len(kept) == 0 {
		return nil, Usagef("--hosts %q matches none of the %d host(s); the hosts are: %s", pattern, len(hosts), hostList(hosts))
	}
	for i, it := range items {
		if !used[i] {
			return nil, Usagef("--hosts: %q matches no host; the hosts are: %s", it, hostList(hosts))
		}
	}
	return kept, nil
}

// hostMatches: the glob matches the host's name as hoist shows it, or
// its address.
func hostMatches(h config.Host, glob string) (bool, error) {
	for _, name := range []string{h.String(), h.Address} {
		ok, err := path.Match(glob, name)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// hostList is "h1 (10.0.0.1), deploy@10.0.0.2": names with their address
// when they differ.
func hostList(hosts []config.Host) string {
	parts := make([]string, len(hosts))
	for i, h := range hosts {
		parts[i] = h.String()
		if h.String() != h.Address && h.Target() != h.String() {
			parts[i] += " (" + h.Address + ")"
		}
	}
	return strings.Join(parts, ", ")
}

// hostNames is "h1, h2".
func hostNames(hosts []config.Host) string {
	parts := make([]string, len(hosts))
	for i, h := range hosts {
		parts[i] = h.String()
	}
	return strings.Join(parts, ", ")
}

// limitedLine is said at the start of a limited deploy, loudly.
func limitedLine(pattern string, kept []config.Host, total int) string {
	return fmt.Sprintf("⚠ Limited to %d of %d hosts by --hosts '%s': %s", len(kept), total, pattern, hostNames(kept))
}

// applyHosts cuts spec down to the hosts --hosts names and returns the
// pattern ("" without the flag). A rollout block must still fit the
// hosts that are left (approve_after names batches that exist).
func applyHosts(c *ucli.Context, spec *config.Spec) (string, error) {
	pattern := c.String(hostsFlag.Name)
	if pattern == "" {
		return "", nil
	}
	kept, err := limitHosts(spec.Hosts, pattern)
	if err != nil {
		return "", err
	}
	cut := *spec
	cut.Hosts = kept
	if err := cut.Validate(); err != nil {
		return "", Usagef("--hosts '%s' leaves %d of %d host(s), which hoist.yml does not fit: %v", pattern, len(kept), len(spec.Hosts), err)
	}
	spec.Hosts = kept
	return pattern, nil
}
