//go:build integration

package commands_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/internal/loadgen"
	"github.com/hoist-dev/hoist/internal/testbed"
	"github.com/hoist-dev/hoist/remote"
)

// The proxy of strategy zero-downtime, for real: the test bed's Caddy
// image started by RunProxy with the config CaddyConfig renders, in front
// of two testapp containers on one Docker network (the root engine, where
// the test images are built); the files written by WriteProxyFile, run by
// a shell as a host's would. Requests answer v1; a new dial file points
// the proxy at v2 and the very next request — on the same
// keep-alive connection, the proxy never restarted or reloaded — answers
// v2, its X-Hoist-Upstream naming the v2 container. Switches under load
// (internal/loadgen, each mode) fail no request. Then the retries: a
// POST sent while the upstream file names a stopped container waits and
// is answered once the file names a running one.
func TestProxySwitchesOnUpstreamFile(t *testing.T) {
	env := testbed.Load(t)
	d := rootDocker{t: t, sock: env.RootDockerSock}
	caddyImage := env.RegistryPush + "/caddy:2.11.9"
	if _, err := d.try("image", "inspect", "--format", "{{.Id}}", caddyImage); err != nil {
		if _, err := d.try("pull", "-q", caddyImage); err != nil {
			t.Fatalf("%s is missing: run scripts/testbed/images.sh (%v)", caddyImage, err)
		}
	}

	id := fmt.Sprintf("hoist-proxy-it-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	network := id
	d.run("network", "create", "--label", "org.hoist.test=proxy", network)
	t.Cleanup(func() { d.try("network", "rm", network) })

	app := map[string]string{}
	for _, v := range []string{"v1", "v2"} {
		name := id + "-" + v
		app[v] = name + ":8080"
		t.Cleanup(func() { d.try("rm", "--force", name) })
		d.run("run", "--detach", "--name", name, "--network", network, "--env", "VERSION="+v, env.RegistryPush+"/testapp:"+v)
	}

	l := commands.Layout{Base: t.TempDir()}
	cfg, err := commands.CaddyConfig(commands.ProxySpec{Name: commands.UpstreamFile})
	if err != nil {
		t.Fatal(err)
	}
	sh(t, l.WriteProxyFile(commands.ProxyConfigFile, cfg))
	switchTo := func(dial string) {
		t.Helper()
		sh(t, l.WriteProxyFile(commands.UpstreamDir+"/"+commands.UpstreamFile, []byte(dial)))
	}
	switchTo(app["v1"])

	proxy := id + "-proxy"
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := d.try("logs", "--tail", "30", proxy)
			t.Logf("proxy logs:\n%s", out)
		}
		d.try("rm", "--force", proxy)
	})
	// Port 0: Docker picks a free loopback port.
	sh(t, commands.RunProxy(commands.ProxyRun{Name: proxy, Network: network, Listen: "127.0.0.1:0", Image: caddyImage,
		Dir: l.ProxyDir(), Digest: "test", DockerConfig: filepath.Join(l.Base, ".docker")}), "DOCKER_HOST=unix://"+env.RootDockerSock)
	started := d.run("inspect", "--format", "{{.State.StartedAt}} {{.RestartCount}}", proxy)
	hostPort := d.run("port", proxy, "80/tcp")
	url := "http://" + strings.Split(hostPort, "\n")[0] + "/"
	t.Logf("proxy %s at %s, image %s", proxy, url, caddyImage)

	c := &http.Client{Timeout: 10 * time.Second}
	waitAnswers(t, c, url, 20*time.Second)

	// Every request below reports whether it went over an existing
	// connection to the proxy.
	type answer struct {
		version, upstream string
		reused            bool
		took              time.Duration
	}
	tryAsk := func(method string) (answer, error) {
		var a answer
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { a.reused = i.Reused }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, url, strings.NewReader("payload"))
		if err != nil {
			return a, err
		}
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			return a, fmt.Errorf("%s %s: %v", method, url, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		a.took = time.Since(start)
		if err != nil || resp.StatusCode != http.StatusOK {
			return a, fmt.Errorf("%s %s: status %d after %s, body %q, %v", method, url, resp.StatusCode, a.took, body, err)
		}
		a.version, a.upstream = strings.TrimSpace(string(body)), resp.Header.Get(commands.UpstreamHeader)
		return a, nil
	}
	ask := func(method string) answer {
		t.Helper()
		a, err := tryAsk(method)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	methods := []string{http.MethodGet, http.MethodPost}

	for i := range 10 {
		if a := ask(methods[i%2]); a.version != "v1" || a.upstream != app["v1"] {
			t.Fatalf("before the switch: %s answered %q through %q, want v1 through %q", methods[i%2], a.version, a.upstream, app["v1"])
		}
	}

	switchTo(app["v2"])
	for i := range 10 {
		a := ask(methods[i%2])
		if a.version != "v2" || a.upstream != app["v2"] {
			t.Fatalf("request %d after the switch: %s answered %q through %q, want v2 through %q", i+1, methods[i%2], a.version, a.upstream, app["v2"])
		}
		if i == 0 && !a.reused {
			t.Errorf("the first request after the switch needed a new connection to the proxy: the switch closed the old one")
		}
	}

	// Under constant load, in each mode: a switch while requests flow
	// fails none, and every request sent after it is answered by the new
	// upstream.
	current := "v2"
	for _, mode := range loadgen.Modes {
		next := map[string]string{"v1": "v2", "v2": "v1"}[current]
		done := make(chan loadgen.Result, 1)
		go func() {
			done <- loadgen.Run(context.Background(), loadgen.Config{URL: url, Mode: mode, Workers: 4, Duration: time.Second})
		}()
		time.Sleep(400 * time.Millisecond)
		switchTo(app[next])
		switched := time.Now()
		res := <-done
		t.Logf("switch %s -> %s under load: %s", current, next, res)
		if f := res.Failures(); len(f) > 0 {
			t.Errorf("%s: %d requests failed across the switch, first at +%s: %+v", mode, len(f), f[0].Start.Sub(res.Records[0].Start), f[0])
		}
		if vs := res.Versions(); vs[current] == 0 || vs[next] == 0 {
			t.Errorf("%s: versions %v, want both %s and %s", mode, vs, current, next)
		}
		if after := res.SeenAfter(switched); len(after) != 1 || after[0] != next {
			t.Errorf("%s: answered by %v after the switch, want only %s", mode, after, next)
		}
		current = next
	}

	// A request that meets a stopped upstream is retried within
	// try_duration, a POST too (the dial failed, nothing was sent), and
	// each attempt reads the file again: the file names v1, stopped; half
	// a second into the POST it names v2, and the POST gets v2. (What a
	// switch back after a crash of the new slot relies on.)
	d.run("stop", "--time", "2", id+"-v1")
	switchTo(app["v1"])
	type reply struct {
		answer
		err error
	}
	done := make(chan reply, 1)
	go func() {
		a, err := tryAsk(http.MethodPost)
		done <- reply{a, err}
	}()
	time.Sleep(500 * time.Millisecond)
	switchTo(app["v2"])
	select {
	case a := <-done:
		if a.err != nil {
			t.Fatalf("POST sent to a stopped upstream: %v", a.err)
		}
		if a.version != "v2" || a.upstream != app["v2"] {
			t.Fatalf("retried POST answered %q through %q, want v2 through %q", a.version, a.upstream, app["v2"])
		}
		if a.took < 500*time.Millisecond {
			t.Errorf("the POST took %s: it was answered before the switch away from the stopped upstream", a.took)
		}
		t.Logf("POST sent to a stopped upstream answered %s after %s (retried until the file named a running one)", a.version, a.took.Round(time.Millisecond))
	case <-time.After(15 * time.Second):
		t.Fatal("the POST sent to a stopped upstream never answered")
	}

	if now := d.run("inspect", "--format", "{{.State.StartedAt}} {{.RestartCount}}", proxy); now != started {
		t.Errorf("the proxy restarted: %s, then %s", started, now)
	}
}

// rootDocker runs the root engine's client.
type rootDocker struct {
	t    *testing.T
	sock string
}

func (d rootDocker) try(args ...string) (string, error) {
	cmd := exec.Command("/usr/bin/docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+d.sock)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

func (d rootDocker) run(args ...string) string {
	d.t.Helper()
	out, err := d.try(args...)
	if err != nil {
		d.t.Fatal(err)
	}
	return out
}

// sh runs a remote command with the local shell, as a host's would,
// with env added to the environment.
func sh(t *testing.T, c remote.Command, env ...string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", c.String())
	cmd.Stdin = bytes.NewReader(c.Stdin)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", c, err, out)
	}
}

// waitAnswers polls url until it answers 200.
func waitAnswers(t *testing.T, c *http.Client, url string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy at %s did not answer within %s: %v", url, limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
