//go:build integration

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testbed"
)

// suite is what every test shares: the test bed, the binary under test and
// the one worker the package starts.
var suite struct {
	env       testbed.Env
	bin       string // absolute path of bin/hoist
	tmp       string // kept when the run fails
	queue     string // the package worker's task queue
	workerLog string // the package worker's stdout+stderr
	password  string // the auth registry's password (a secret: never in output)
	// cluster is set when the suite runs against the test bed's Temporal
	// cluster (HOIST_E2E_TEMPORAL=cluster, `make integration-cluster`)
	// instead of the dev server: every hoist, worker and temporal CLI of
	// the run then talks to it.
	cluster *testbed.Cluster
}

// registryPasswordEnv is the variable the package worker holds the auth
// registry password in; its --registry-credentials file names it with
// password_env (hoist.yml names only the server).
const registryPasswordEnv = "E2E_REGISTRY_PASSWORD"

// defaultParallel is how many tests run at once unless -parallel says
// otherwise. The tests mostly wait on the hosts, so a few more than the
// test bed machine's two cores keep it busy without starving it; one slot
// goes to TestHostFaults for most of the run.
const defaultParallel = "4"

func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		flag.Set("test.parallel", defaultParallel)
	}
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "e2e: "+format+"\n", args...)
		return 1
	}
	bin, err := filepath.Abs(filepath.Join("..", "bin", "hoist"))
	if err != nil {
		return fail("%v", err)
	}
	fi, err := os.Stat(bin)
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fail("%s is missing or not executable: run `make build` first (`make integration` does it)", bin)
	}
	suite.bin = bin
	if newer := newerSource(filepath.Dir(filepath.Dir(bin)), fi.ModTime()); newer != "" {
		fmt.Fprintf(os.Stderr, "e2e: warning: %s is newer than bin/hoist: the suite tests an old binary; run `make build`\n", newer)
	}

	env, err := testbed.Read(testbed.Dir())
	if err == nil {
		err = env.Check()
	}
	if err != nil {
		return fail("test bed: %v; start it with `make testbed-up` and `make images`", err)
	}
	if env.TemporalBin == "" {
		return fail("test bed: HOIST_TB_TEMPORAL_BIN is missing from %s/env; the suite reads workflow histories with the temporal CLI", env.Dir)
	}
	if len(env.Hosts) < 3 {
		return fail("test bed: want 3 hosts, got %v", env.Hosts)
	}
	switch target := os.Getenv("HOIST_E2E_TEMPORAL"); target {
	case "", "dev":
	case "cluster":
		c, err := testbed.ReadCluster(env.Dir)
		if err == nil {
			err = c.Check()
		}
		if err != nil {
			return fail("HOIST_E2E_TEMPORAL=cluster: %v", err)
		}
		env.Temporal = c.Address
		suite.cluster = &c
		suite.env = env
		// A cluster just started is still placing partitions and shards.
		if _, err := waitSettled(2 * time.Minute); err != nil {
			return fail("HOIST_E2E_TEMPORAL=cluster: %v", err)
		}
		fmt.Fprintf(os.Stderr, "e2e: against the Temporal cluster at %s (servers %s, Temporal %s)\n", c.Address, strings.Join(c.Servers, ", "), c.Version)
	default:
		return fail("HOIST_E2E_TEMPORAL=%q: want dev (the default) or cluster", target)
	}
	suite.env = env
	pw, err := env.AuthPassword()
	if err != nil || pw == "" {
		return fail("test bed: auth registry password (%s): %v", env.AuthPasswordFile, err)
	}
	suite.password = pw

	tmp, err := os.MkdirTemp("", "hoist-e2e-")
	if err != nil {
		return fail("%v", err)
	}
	suite.tmp = tmp
	suite.queue = fmt.Sprintf("e2e-%d", os.Getpid())
	suite.workerLog = filepath.Join(tmp, "worker.log")
	creds, err := packageCredentials(tmp)
	if err != nil {
		return fail("%v", err)
	}
	w, err := startWorker(suite.queue, suite.workerLog, []string{registryPasswordEnv + "=" + pw, "HOIST_REGISTRY_CREDENTIALS=" + creds})
	if err != nil {
		return fail("%v", err)
	}

	code := m.Run()

	if err := w.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: stopping the worker: %v\n", err)
		code = 1
	}
	// The worker logged every deploy of the run: the registry password must
	// be in none of it.
	if log, err := os.ReadFile(suite.workerLog); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: reading the worker log: %v\n", err)
		code = 1
	} else if bytes.Contains(log, []byte(pw)) {
		fmt.Fprintf(os.Stderr, "e2e: the registry password appears in the worker log %s\n", suite.workerLog)
		code = 1
	}
	if code != 0 || os.Getenv("HOIST_E2E_KEEP") != "" {
		fmt.Fprintf(os.Stderr, "e2e: worker log and files kept in %s\n", tmp)
	} else {
		os.RemoveAll(tmp)
	}
	return code
}

// worker is a `hoist worker` subprocess.
type worker struct {
	cmd  *exec.Cmd
	done chan error
	log  string
}

// startWorker starts `bin/hoist worker` on queue with the test bed's key
// and known_hosts, logging to logPath, and waits until it polls. extraEnv
// is added to the environment (registry passwords, AWS settings).
func startWorker(queue, logPath string, extraEnv []string) (*worker, error) {
	env := suite.env
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(suite.bin, "--task-queue", queue, "worker",
		"--ssh-key", env.SSHKey, "--known-hosts", env.KnownHosts, "--log-level", "debug")
	cmd.Env = temporalEnv()
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = f, f
	// The worker must not outlive the test binary, even when it panics on
	// a timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s worker: %w", suite.bin, err)
	}
	w := &worker{cmd: cmd, done: make(chan error, 1), log: logPath}
	go func() { w.done <- cmd.Wait() }()
	deadline := time.After(20 * time.Second)
	for {
		if b, _ := os.ReadFile(logPath); bytes.Contains(b, []byte(`msg="Started Worker"`)) {
			return w, nil
		}
		select {
		case err := <-w.done:
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("hoist worker exited before it polled (%v):\n%s", err, b)
		case <-deadline:
			w.stop()
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("hoist worker did not start polling %s within 20s:\n%s", queue, b)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends the worker with SIGTERM, then SIGKILL.
func (w *worker) stop() error {
	if w.cmd.ProcessState != nil {
		return nil
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-w.done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			return err
		}
		return nil
	case <-time.After(15 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
		return fmt.Errorf("worker did not stop within 15s of SIGTERM; killed")
	}
}

// cleanEnv is the test process's environment without the settings that
// would point hoist or the AWS SDK somewhere else.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "HOIST_") || strings.HasPrefix(k, "TEMPORAL_") || strings.HasPrefix(k, "AWS_") || k == registryPasswordEnv {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// temporalEnv is the environment of every hoist the suite runs: the
// clean one, pointed at the suite's Temporal.
// The cluster's frontends want TLS and a client certificate, given as a
// user would, in the temporal CLI's variables.
func temporalEnv() []string {
	env := append(cleanEnv(), "TEMPORAL_ADDRESS="+suite.env.Temporal)
	if c := suite.cluster; c != nil {
		env = append(env, "TEMPORAL_TLS_CA="+c.TLSCA, "TEMPORAL_TLS_CERT="+c.TLSCert, "TEMPORAL_TLS_KEY="+c.TLSKey)
	}
	return env
}

// temporalCLIFlags point the temporal CLI at the suite's Temporal.
func temporalCLIFlags() []string {
	flags := []string{"--address", suite.env.Temporal}
	if c := suite.cluster; c != nil {
		flags = append(flags, "--tls-ca-path", c.TLSCA, "--tls-cert-path", c.TLSCert, "--tls-key-path", c.TLSKey)
	}
	return flags
}

// startTestWorker starts a worker of the test's own on a queue of its own,
// stopped when the test ends; for tests that need a different environment.
func startTestWorker(t *testing.T, name string, extraEnv []string) (queue, logPath string) {
	t.Helper()
	queue = fmt.Sprintf("%s-%s", suite.queue, name)
	logPath = filepath.Join(suite.tmp, name+"-worker.log")
	w, err := startWorker(queue, logPath, extraEnv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.stop(); err != nil {
			t.Errorf("worker %s: %v", queue, err)
		}
		if t.Failed() {
			t.Logf("worker log of %s (%s), last lines:\n%s", queue, logPath, tail(logPath, 40))
		}
	})
	return queue, logPath
}

// tail returns the last n lines of a file.
func tail(path string, n int) string { return grepTail(path, "", n) }

// grepTail returns the last n lines of a file that contain needle.
func grepTail(path, needle string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), needle) {
			continue
		}
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// withTimeout is a context for one command of a test.
func withTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newerSource names a Go source file of the product under root modified
// after t, or returns "".
func newerSource(root string, t time.Time) string {
	var found string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if found != "" {
			return fs.SkipAll
		}
		if err != nil {
			return nil // unreadable: not ours to judge
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "e2e" || name == "bin" || name == "scripts") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			if info, err := d.Info(); err == nil && info.ModTime().After(t) {
				found = path
			}
		}
		return nil
	})
	return found
}
