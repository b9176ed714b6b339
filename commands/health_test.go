package commands

import (
	"reflect"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/remote"
)

func TestHealthcheckArgv(t *testing.T) {
	cases := []struct {
		name string
		test []string
		want []string
	}{
		{"exec form, no shell needed", []string{"CMD", "/app", "-healthcheck"}, []string{"/app", "-healthcheck"}},
		{"shell form", []string{"CMD-SHELL", "curl -fsS http://localhost:8080/up || exit 1"}, []string{"/bin/sh", "-c", "curl -fsS http://localhost:8080/up || exit 1"}},
		{"disabled", []string{"NONE"}, nil},
		{"exec form without a command", []string{"CMD"}, nil},
		{"shell form without a command", []string{"CMD-SHELL", ""}, nil},
		{"shell form with two words is not Docker's", []string{"CMD-SHELL", "a", "b"}, nil},
		{"inherit (never in an inspected container)", []string{}, nil},
		{"unknown kind", []string{"EXEC", "x"}, nil},
	}
	for _, tc := range cases {
		if got := (&Healthcheck{Test: tc.test}).Argv(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	var none *Healthcheck
	if none.Argv() != nil || none.TimeoutOrDefault() != 30*time.Second || none.RetriesOrDefault() != 3 {
		t.Errorf("no healthcheck: argv %q, timeout %s, retries %d", none.Argv(), none.TimeoutOrDefault(), none.RetriesOrDefault())
	}
	hc := &Healthcheck{Timeout: 1500 * time.Millisecond, Retries: 1}
	if hc.TimeoutOrDefault() != 1500*time.Millisecond || hc.RetriesOrDefault() != 1 {
		t.Errorf("set: timeout %s, retries %d", hc.TimeoutOrDefault(), hc.RetriesOrDefault())
	}
}

func TestRunHealthcheck(t *testing.T) {
	id := "0123456789ab"
	cases := []struct {
		name    string
		argv    []string
		timeout time.Duration
		want    string
	}{
		{"exec form", []string{"/app", "-healthcheck"}, 30 * time.Second,
			`timeout -k 1 30 docker exec 0123456789ab /app -healthcheck`},
		{"shell form, quoted for the host's shell", (&Healthcheck{Test: []string{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}}).Argv(), 1500 * time.Millisecond,
			`timeout -k 1 1.5 docker exec 0123456789ab /bin/sh -c 'curl -f http://localhost/ || exit 1'`},
		{"sub-second timeout", []string{"true"}, 250 * time.Millisecond,
			`timeout -k 1 0.25 docker exec 0123456789ab true`},
	}
	for _, tc := range cases {
		if got := RunHealthcheck(id, tc.argv, tc.timeout).String(); got != tc.want {
			t.Errorf("%s:\n got  %s\n want %s", tc.name, got, tc.want)
		}
	}
}

// The healthcheck's words reach docker exec as they are in the container's
// config, through the host's shell: quotes, $, ; and a word that looks
// like an option stay words.
func TestRunHealthcheckParsesBack(t *testing.T) {
	argv := []string{"/bin/sh", "-c", `test "$(cat /tmp/x)" = 'ok'; echo $HOME`, "--", "-rf"}
	cmd := RunHealthcheck("abc", argv, time.Second)
	for _, sh := range shells {
		got := parseBack(t, sh, []remote.Command{cmd})[0]
		if !reflect.DeepEqual(got, wantSteps(cmd)) {
			t.Errorf("%s split it into %q, want %q", sh, got, wantSteps(cmd))
		}
	}
}
