//go:build integration

package deploy_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testbed"
)

// imageMetricsPort is this test's, of the range the worker-service tests
// use (18360-18369).
const imageMetricsPort = 18369

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The image builds on the test bed's Docker engine, holds nothing but
// what build.sh put in, and runs a worker that polls the test bed's
// Temporal (its /healthz says 200) and stops at once on SIGTERM when no
// step runs (exit 0).
func TestImageBuildsAndRunsAWorker(t *testing.T) {
	env := testbed.Load(t)
	tag := fmt.Sprintf("svc-hoist-worker:test-%d", os.Getpid())
	if out, err := exec.Command("./docker/build.sh", "image", tag).CombinedOutput(); err != nil {
		t.Fatalf("build.sh image: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "--force", tag).Run() })

	// What the image holds, file by file.
	id := strings.TrimSpace(docker(t, "create", tag))
	t.Cleanup(func() { exec.Command("docker", "rm", "--force", id).Run() })
	export, err := exec.Command("docker", "export", id).Output()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(export))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(h.Name, "/")] = h
	}
	for _, p := range []string{"usr/local/bin/hoist", "etc/ssl/certs/ca-certificates.crt", "etc/passwd", "tmp", "var/lib/hoist"} {
		if files[p] == nil {
			t.Errorf("the image has no /%s", p)
		}
	}
	if h := files["tmp"]; h != nil && h.FileInfo().Mode()&os.ModeSticky == 0 {
		t.Errorf("/tmp is %v, want 1777", h.FileInfo().Mode())
	}
	if h := files["var/lib/hoist"]; h != nil && h.Uid != 65532 {
		t.Errorf("/var/lib/hoist belongs to %d, want the worker's user 65532", h.Uid)
	}
	for p := range files {
		if strings.HasPrefix(p, "bin") || strings.HasPrefix(p, "lib") || strings.HasPrefix(p, "usr/lib") {
			t.Errorf("the image holds /%s: not FROM scratch alone", p)
		}
	}

	if out := docker(t, "run", "--rm", tag, "--version"); !strings.HasPrefix(out, "hoist version ") {
		t.Fatalf("--version: %q", out)
	}

	// A worker of the image, on the host's network to reach the test
	// bed's Temporal on loopback.
	name := fmt.Sprintf("svc-hoist-image-%d", os.Getpid())
	docker(t, "run", "--detach", "--name", name, "--network", "host",
		"-e", "TEMPORAL_ADDRESS="+env.Temporal, "-e", fmt.Sprintf("HOIST_METRICS_ADDR=127.0.0.1:%d", imageMetricsPort),
		"-e", "HOIST_LOG_FORMAT=json", "-e", "HOIST_TASK_QUEUE="+name, tag)
	t.Cleanup(func() { exec.Command("docker", "rm", "--force", name).Run() })
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", imageMetricsPort)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the image's worker did not get healthy within 30 s (%v); its log:\n%s", err, docker(t, "logs", name))
		}
		time.Sleep(200 * time.Millisecond)
	}
	start := time.Now()
	docker(t, "stop", "--time", "150", name)
	if code := strings.TrimSpace(docker(t, "inspect", "--format", "{{.State.ExitCode}}", name)); code != "0" {
		t.Fatalf("the worker exited %s after SIGTERM, want 0; its log:\n%s", code, docker(t, "logs", name))
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("an idle worker took %s to stop", took)
	}
	logs := docker(t, "logs", name)
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !strings.HasPrefix(l, "{") {
			t.Errorf("a log line is not JSON under HOIST_LOG_FORMAT=json: %s", l)
		}
	}
}
