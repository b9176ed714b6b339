//go:build integration

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Faults of a production-shaped Temporal: the test bed's cluster of two
// server processes on PostgreSQL (scripts/testbed/cluster.sh). They run in
// the suite's cluster pass (`make integration-cluster`, which sets
// HOIST_E2E_TEMPORAL=cluster), beside a subset of the ordinary tests run
// there unchanged.

const (
	portClusterServerKill = 18370
	portClusterPGRestart  = 18371
	portClusterTLS        = 18372
)

// needCluster fails (never skips) a test that only means something
// against the cluster.
func needCluster(t *testing.T) {
	t.Helper()
	if suite.cluster == nil {
		t.Fatal("this test runs against the test bed's Temporal cluster: `make integration-cluster` " +
			"(HOIST_E2E_TEMPORAL=cluster go test -tags integration -run 'TestCluster' ./e2e/)")
	}
}

// One of the two server processes is killed (-9) while a deploy waits for
// its new release to run: the deploy completes through the other one, the
// worker and the CLI reaching it by the same name, and the host is left as
// after any deploy.
func TestClusterServerKilledMidDeploy(t *testing.T) {
	needCluster(t)
	c := suite.cluster
	s := newFaultService(t, "clkill", portClusterServerKill, faultHost)
	s.wait = "{retries: 10, delay: 2s, stable: 8s}"
	s.ownWorker("w1")
	s.mustDeploy("v1", image("v1"))
	s.compose("v2", app{image: suite.env.Image("v2"), health: true})
	cli := s.start("deploy", "--config", s.hoistYML(), "--version", "v2")
	s.scheduled("WaitRunning", 1)
	c.ServerKill(t, 1)
	killed := time.Now()
	t.Cleanup(func() { // the next test gets both again, settled
		c.ServerStart(t, 1)
		settled(t)
	})

	s.wantFollowedToSuccess(cli, "v2", "v1", "v2")
	t.Logf("server 1 killed; the deploy ended %s later through server 2", time.Since(killed).Round(100*time.Millisecond))
}

// PostgreSQL restarts (fast shutdown: every connection cut) while a deploy
// waits for its new release: the servers reconnect and the deploy resumes
// and completes.
func TestClusterPostgresRestartMidDeploy(t *testing.T) {
	needCluster(t)
	c := suite.cluster
	s := newFaultService(t, "clpg", portClusterPGRestart, faultHost)
	s.wait = "{retries: 10, delay: 2s, stable: 8s}"
	s.ownWorker("w1")
	s.mustDeploy("v1", image("v1"))
	s.compose("v2", app{image: suite.env.Image("v2"), health: true})
	cli := s.start("deploy", "--config", s.hoistYML(), "--version", "v2")
	s.scheduled("WaitRunning", 1)
	restarted := time.Now()
	c.PGRestart(t)
	t.Logf("PostgreSQL restarted in %s", time.Since(restarted).Round(100*time.Millisecond))

	s.wantFollowedToSuccess(cli, "v2", "v1", "v2")
	t.Logf("the deploy ended %s after the restart began", time.Since(restarted).Round(100*time.Millisecond))
}

// settled waits until the cluster runs workflows again through both
// frontends after a server came back: until then the membership ring is
// moving task queue partitions and history shards to it, and a worker's
// first polls can go unseen (seen here: a deploy right after the restart
// was refused with "no worker polls" for 5 s). Settled is three probe
// workflows in a row, each on a fresh queue, each started, polled and
// completed within 3 s, and the probe worker's poller seen.
func settled(t *testing.T) {
	t.Helper()
	took, err := waitSettled(90 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster settled %s after the restart", took.Round(100*time.Millisecond))
}

func waitSettled(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	ok := 0
	var last error
	for i := 0; ok < 3; i++ {
		if time.Since(start) > timeout {
			return 0, fmt.Errorf("the cluster at %s did not settle within %s: %v", suite.env.Temporal, timeout, last)
		}
		if last = probeWorkflow(fmt.Sprintf("settle-%d-%d", os.Getpid(), i)); last != nil {
			ok = 0
			time.Sleep(time.Second)
			continue
		}
		ok++
	}
	return time.Since(start), nil
}

func probeWorkflow(queue string) error {
	tlsConf, err := suite.cluster.ClientTLS()
	if err != nil {
		return err
	}
	cl, err := client.Dial(client.Options{HostPort: suite.env.Temporal, Logger: sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		ConnectionOptions: client.ConnectionOptions{TLS: tlsConf}})
	if err != nil {
		return err
	}
	defer cl.Close()
	w := sdkworker.New(cl, queue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context) (string, error) { return "ok", nil }, workflow.RegisterOptions{Name: "probe"})
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for {
		r, err := cl.DescribeTaskQueue(ctx, queue, enums.TASK_QUEUE_TYPE_WORKFLOW)
		if err != nil {
			return err
		}
		if len(r.GetPollers()) > 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("queue %s: the probe worker's poller not seen", queue)
		case <-time.After(100 * time.Millisecond):
		}
	}
	run, err := cl.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: queue, TaskQueue: queue}, "probe")
	if err != nil {
		return err
	}
	var out string
	return run.Get(ctx, &out)
}

// docker-compose.temporal.yml is what users run; its images cannot be
// pulled here, so Compose itself checks the file, and the test checks the
// order it starts things in: PostgreSQL healthy → schema job done →
// server healthy → namespace job and UI.
func TestTemporalComposeFile(t *testing.T) {
	ctx := withTimeout(t, time.Minute)
	// Debian's client (the test bed's Compose plugin), never /usr/local/bin's.
	cmd := exec.CommandContext(ctx, "/usr/bin/docker", "compose", "-f", filepath.Join("..", "docker-compose.temporal.yml"), "config", "--format", "json")
	cmd.Env = append(cleanEnv(), "POSTGRES_PASSWORD=not-the-default")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker compose config: %v\n%s", err, errb.String())
	}
	var cfg struct {
		Services map[string]struct {
			Image       string
			DependsOn   map[string]struct{ Condition string } `json:"depends_on"`
			Healthcheck *struct{ Test []string }
			Environment map[string]*string
		}
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("docker compose config --format json: %v", err)
	}
	wantDeps := map[string]map[string]string{
		"temporal-schema":    {"postgresql": "service_healthy"},
		"temporal":           {"temporal-schema": "service_completed_successfully"},
		"temporal-namespace": {"temporal": "service_healthy"},
		"temporal-ui":        {"temporal": "service_healthy"},
	}
	for svc, deps := range wantDeps {
		got, ok := cfg.Services[svc]
		if !ok {
			t.Errorf("no service %s", svc)
			continue
		}
		for dep, cond := range deps {
			if got.DependsOn[dep].Condition != cond {
				t.Errorf("%s depends on %s with %q, want %q", svc, dep, got.DependsOn[dep].Condition, cond)
			}
		}
	}
	for _, svc := range []string{"postgresql", "temporal"} {
		if cfg.Services[svc].Healthcheck == nil || len(cfg.Services[svc].Healthcheck.Test) == 0 {
			t.Errorf("%s has no health check", svc)
		}
	}
	if pw := cfg.Services["temporal"].Environment["POSTGRES_PWD"]; pw == nil || *pw != "not-the-default" {
		t.Errorf("the server's POSTGRES_PWD does not come from POSTGRES_PASSWORD: %v", pw)
	}
	wantImage := map[string]string{"temporal-schema": "temporalio/admin-tools:", "temporal": "temporalio/server:",
		"temporal-namespace": "temporalio/admin-tools:", "temporal-ui": "temporalio/ui:"}
	for svc, prefix := range wantImage {
		if !strings.HasPrefix(cfg.Services[svc].Image, prefix) {
			t.Errorf("%s runs %q, want %s…", svc, cfg.Services[svc].Image, prefix)
		}
	}
}

// The cluster's frontends serve TLS and require a client certificate: the
// whole cluster pass connects that way (temporalEnv). Here, what a user
// with a wrong setting sees: a usage error naming the cause, before
// anything starts, and never a bare gRPC error.
func TestClusterTLSRefusals(t *testing.T) {
	needCluster(t)
	c := suite.cluster
	s := newService(t, "cltls", portClusterTLS)
	s.compose("v1", image("v1"))
	base := []string{"TEMPORAL_ADDRESS=" + c.Address}
	cases := []struct {
		name string
		env  []string
		want []string
	}{
		{"a CA that did not sign the frontend", []string{"TEMPORAL_TLS_CA=" + c.WrongCA, "TEMPORAL_TLS_CERT=" + c.TLSCert, "TEMPORAL_TLS_KEY=" + c.TLSKey},
			[]string{"not signed by", c.WrongCA}},
		{"no client certificate", []string{"TEMPORAL_TLS_CA=" + c.TLSCA},
			[]string{"client certificate"}},
		{"no TLS at all", nil,
			[]string{"TLS"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := withTimeout(t, time.Minute)
			cmd := exec.CommandContext(ctx, suite.bin, "--task-queue", s.queue, "deploy", "--config", s.hoistYML(), "--version", "v1")
			cmd.Dir = s.dir
			cmd.Env = append(append(cleanEnv(), base...), tc.env...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("deploy with %s: %v, want exit 2\nstdout:\n%s\nstderr:\n%s", tc.name, err, out.String(), errb.String())
			}
			wantContains(t, "the refusal", errb.String(), tc.want...)
			t.Logf("%s: %s", tc.name, strings.TrimSpace(errb.String()))
		})
	}
	// Nothing reached a host.
	s.wantNoBase()
}
