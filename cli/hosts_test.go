package cli

import (
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/config"
)

func TestLimitHosts(t *testing.T) {
	hosts := []config.Host{
		{Name: "h1", Address: "10.77.0.11", User: "deploy"},
		{Address: "10.77.0.12", User: "deploy"}, // shown as deploy@10.77.0.12
		{Name: "web-3", Address: "web3.internal"},
		{Name: "web-4", Address: "10.77.0.14"},
	}
	for _, c := range []struct {
		pattern string
		want    string // kept hosts, or the usage error's text
	}{
		{"h1", "h1"},
		{"h1,web-4", "h1, web-4"},
		{" web-* ", "web-3, web-4"},
		{"web-4,h1", "h1, web-4"},                      // config order, whatever the pattern's
		{"10.77.0.1?", "h1, deploy@10.77.0.12, web-4"}, // by address
		{"deploy@10.77.0.12", "deploy@10.77.0.12"},     // by the name hoist shows
		{"web3.internal", "web-3"},
		{"*", "h1, deploy@10.77.0.12, web-3, web-4"},
		{"h1,h1", "h1"},
		{"db-*", `--hosts "db-*" matches none of the 4 host(s); the hosts are: h1 (10.77.0.11), deploy@10.77.0.12, web-3 (web3.internal), web-4 (10.77.0.14)`},
		{"h1,h22", `--hosts: "h22" matches no host; the hosts are: h1 (10.77.0.11), deploy@10.77.0.12, web-3 (web3.internal), web-4 (10.77.0.14)`},
		{" , ", `--hosts " , " names no host`},
		{"web-[", `--hosts: "web-[" is not a valid glob`},
		{strings.Repeat("h", 201), "--hosts: at most 200 bytes, got 201"},
	} {
		kept, err := limitHosts(hosts, c.pattern)
		got := ""
		if err != nil {
			if ExitCode(err) != ExitUsage {
				t.Errorf("%q: exit %d, want %d", c.pattern, ExitCode(err), ExitUsage)
			}
			got = err.Error()
		} else {
			got = hostNames(kept)
		}
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("limitHosts(%q) = %q, want %q", c.pattern, got, c.want)
		}
	}
}

func TestLimitedLine(t *testing.T) {
	kept := []config.Host{{Name: "h1", Address: "a"}, {Name: "h2", Address: "b"}}
	if got, want := limitedLine("h1,h2", kept, 12), "⚠ Limited to 2 of 12 hosts by --hosts 'h1,h2': h1, h2"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

// A rollout block must still fit the hosts --hosts leaves; a deploy that
// would not, or names no host, is refused before anything is dialled.
func TestHostsRefusedBeforeDialling(t *testing.T) {
	cfg := planConfig(t, fourHosts, "rollout:\n  batches: [1, '100%']\n  approve_after: [1]\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"deploy", "-c", cfg, "--version", "v2", "--hosts", "h9"}, `hoist: --hosts "h9" matches none of the 4 host(s); the hosts are: h1 (10.77.0.11), deploy@10.77.0.12, h3 (10.77.0.13), h4 (10.77.0.14)` + "\n"},
		{[]string{"rollback", "-c", cfg, "--hosts", "h1,nope"}, `hoist: --hosts: "nope" matches no host`},
		// one host makes one batch: approve_after [1] names the last batch,
		// which is fine; [2] is not
		{[]string{"deploy", "-c", planConfig(t, fourHosts, "rollout:\n  batches: [1, '100%']\n  approve_after: [2]\n"), "--version", "v2", "--hosts", "h1"},
			"hoist: --hosts 'h1' leaves 1 of 4 host(s), which hoist.yml does not fit: rollout.approve_after[0]: batch 2 does not exist: 1 host(s) in batches [1, \"100%\"] make 1 batch(es)"},
		{[]string{"deploy", "-c", cfg, "--version", "v2", "--output", "yaml"}, `hoist: --output: want text or json, got "yaml"`},
	} {
		code, out, errOut := runOffline(t, c.args...)
		if code != ExitUsage || out != "" || !strings.HasPrefix(errOut, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, out, errOut, c.want)
		}
	}
}
