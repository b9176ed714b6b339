package activities

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
)

var testProxy = config.Proxy{Service: "web", Port: 8080, Listen: "0.0.0.0:18400", Image: "caddy:2.11.9", Drain: time.Second}

// The check through the proxy passes on the first answer that names the
// new slot's container, asked of the proxy's address from the host.
func TestCheckProxyPasses(t *testing.T) {
	f := newDialingFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(commands.UpstreamHeader, "web-b-web-1:8080")
	})
	res, err := (&Activities{SSH: f}).CheckProxy(context.Background(), CheckProxyInput{Target: target, Slot: "b", Proxy: testProxy, Path: "/"})
	if err != nil || res.Tries != 1 || res.Status != 200 {
		t.Fatalf("CheckProxy: %+v, %v", res, err)
	}
	if f.dialed[0] != "deploy@h1 127.0.0.1:18400" {
		t.Fatalf("dialed %q, want the proxy's listen port on the host's loopback", f.dialed)
	}
}

// An answer from the old slot while the new slot's container has
// stopped: the check fails at once, final, instead of trying for its
// whole window while the proxy points at nothing. Seen first as 16 s of
// 502s in BenchmarkZeroDowntimeCrash, when the release crashed before
// the check got through.
func TestCheckProxyFailsAtOnceWhenTheSlotStopped(t *testing.T) {
	f := newDialingFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	f.on(commands.ContainerRunning("web-b-web-1"), reply{out: "false\n"})
	start := time.Now()
	_, err := (&Activities{SSH: f}).CheckProxy(context.Background(), CheckProxyInput{Target: target, Slot: "b", Proxy: testProxy})
	if appErrType(err) != ErrCommand+" (non-retryable)" || !strings.Contains(err.Error(), "container web-b-web-1 of slot b stopped right after the switch") {
		t.Fatalf("CheckProxy: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %s: it waited out its window", took)
	}
}

// Inputs from the task queue are checked like every activity's.
func TestCheckProxyRefusesBadInput(t *testing.T) {
	f := newDialingFake(t, func(http.ResponseWriter, *http.Request) {})
	for _, in := range []CheckProxyInput{
		{Target: target, Slot: "c", Proxy: testProxy},
		{Target: target, Slot: "a", Proxy: config.Proxy{Service: "web", Port: 8080, Listen: "x", Image: "caddy:2.11.9"}},
		{Target: target, Slot: "a", Proxy: testProxy, Path: "no-slash"},
	} {
		if _, err := (&Activities{SSH: f}).CheckProxy(context.Background(), in); appErrType(err) != ErrInvalid+" (non-retryable)" {
			t.Errorf("%+v: %v", in, err)
		}
	}
}
