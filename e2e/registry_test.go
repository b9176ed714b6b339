//go:build integration

package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/remote"
)

// Published ports of this file's services, in a range of their own.
const (
	portRegistryNoCred      = 18240
	portRegistryECRMismatch = 18241
)

// workerCredentialsMsg is what hoist.yml is told about a key that once
// chose a registry credential.
const workerCredentialsMsg = "is no longer part of the deploy spec: registry credentials now live on the worker (hoist worker --registry-credentials FILE)"

// registryCredentials writes a worker's --registry-credentials file into
// dir and returns its path.
func registryCredentials(t testing.TB, dir, yml string) string {
	t.Helper()
	p := filepath.Join(dir, "registry-credentials.yml")
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// packageCredentials is the package worker's credentials file: the auth
// registry, its password in the worker's environment.
func packageCredentials(dir string) (string, error) {
	p := filepath.Join(dir, "registry-credentials.yml")
	yml := fmt.Sprintf("%q: {username: %s, password_env: %s}\n", suite.env.AuthRegistry, suite.env.AuthUser, registryPasswordEnv)
	return p, os.WriteFile(p, []byte(yml), 0o600)
}

// registrySpec is the hoist.yml block that names the registry: its server,
// and nothing else.
func registrySpec(server string) string { return fmt.Sprintf("registry: {server: %q}\n", server) }

// Case 11: a basic-auth registry. The credential lives only on the worker
// (its --registry-credentials file names the server and the variable the
// password is in); hoist.yml names the server. The deploy works, so docker
// login and the authenticated pull really happened on the host, into the
// service's own Docker config.
func TestRegistryBasicAuth(t *testing.T) {
	t.Parallel()
	const host = 2
	s := newService(t, "regbasic", portRegistryBasic, host)
	s.extra = registrySpec(suite.env.AuthRegistry)
	requireLoggedOut(t, host)

	ps := samplePS(t, host)
	a := app{image: suite.env.AuthImage("v1")}
	s.mustDeploy("v1", a)
	samples := ps.stop()

	s.wantState("v1", suite.env.AuthImage("v1"), "v1")
	s.wantServes("v1")
	s.wantLoggedIn(host)

	secrets := map[string]string{"the registry password": suite.password}
	wantNoSecret(t, "the deploy's workflow history", s.deployHistory().raw, secrets)
	log, err := os.ReadFile(suite.workerLog)
	if err != nil {
		t.Fatal(err)
	}
	wantNoSecret(t, "the worker's log", log, secrets)
	wantNoSecret(t, "the host's process list", samples, secrets)
}

// Case 11: ECR. A fake ECR endpoint answers GetAuthorizationToken with a
// login for the basic-auth registry, its ProxyEndpoint that registry; a
// worker of this test's own holds an ecr credential for it.
func TestRegistryECR(t *testing.T) {
	t.Parallel()
	const host = 2 // shared with the basic-auth test: requireLoggedOut takes turns
	token := base64.StdEncoding.EncodeToString([]byte(suite.env.AuthUser + ":" + suite.password))
	ecr := newFakeECR(t, token, "http://"+suite.env.AuthRegistry)
	creds := registryCredentials(t, t.TempDir(), fmt.Sprintf("%q: {ecr: {region: us-west-2}}\n", suite.env.AuthRegistry))
	queue, workerLog := startTestWorker(t, "ecr", []string{
		"HOIST_REGISTRY_CREDENTIALS=" + creds,
		"AWS_ENDPOINT_URL_ECR=" + ecr.URL,
		"AWS_ACCESS_KEY_ID=AKIAE2EFAKEFAKEFAKE0",
		"AWS_SECRET_ACCESS_KEY=e2e-fake-secret-key",
		"AWS_REGION=us-west-2",
		// Nothing on this machine may supply other credentials or config.
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
	})

	s := newService(t, "regecr", portRegistryECR, host)
	s.queue = queue
	s.extra = registrySpec(suite.env.AuthRegistry)
	requireLoggedOut(t, host)

	ps := samplePS(t, host)
	s.mustDeploy("v1", app{image: suite.env.AuthImage("v1")})
	samples := ps.stop()

	s.wantState("v1", suite.env.AuthImage("v1"), "v1")
	s.wantServes("v1")
	s.wantLoggedIn(host)

	calls := ecr.seen()
	if len(calls) == 0 {
		t.Fatalf("the fake ECR endpoint %s saw no GetAuthorizationToken call", ecr.URL)
	}
	for _, c := range calls {
		if c.method != http.MethodPost || c.target != ecrGetToken || !strings.Contains(c.auth, "/us-west-2/ecr/aws4_request") {
			t.Fatalf("ECR call %+v: want a GetAuthorizationToken POST signed for us-west-2/ecr", c)
		}
	}

	secrets := map[string]string{"the registry password": suite.password, "the ECR token": token}
	wantNoSecret(t, "the deploy's workflow history", s.deployHistory().raw, secrets)
	log, err := os.ReadFile(workerLog)
	if err != nil {
		t.Fatal(err)
	}
	wantNoSecret(t, "the ECR worker's log", log, secrets)
	wantNoSecret(t, "the host's process list", samples, secrets)
}

// loginTurn serializes, per test bed host, the tests that depend on its
// docker being logged out of the auth registry.
var loginTurn [4]sync.Mutex

// requireLoggedOut logs host n's docker out of the auth registry and drops
// its image, and checks that a pull is then refused: the deploy can only
// succeed by logging in. The host is logged out again when the test ends.
func requireLoggedOut(t *testing.T, n int) {
	t.Helper()
	// Tests that log the same host in and out take turns.
	loginTurn[n].Lock()
	t.Cleanup(loginTurn[n].Unlock)
	reg, img := suite.env.AuthRegistry, suite.env.AuthImage("v1")
	ssh(t, n, fmt.Sprintf("docker logout %s >/dev/null; docker image rm %s >/dev/null 2>&1; true", reg, img))
	t.Cleanup(func() {
		if out, err := sshRun(n, "docker logout "+reg); err != nil {
			t.Errorf("h%d: docker logout: %v\n%s", n, err, out)
		}
	})
	out, err := sshRun(n, "docker pull "+img)
	if err == nil {
		t.Fatalf("h%d pulled %s without logging in: the registry does not check credentials\n%s", n, img, out)
	}
	if !strings.Contains(out, "no basic auth credentials") && !strings.Contains(out, "unauthorized") {
		t.Fatalf("h%d: pulling %s logged out failed, but not for want of credentials:\n%s", n, img, out)
	}
}

// wantLoggedIn checks that host n's docker holds a login for the auth
// registry in the service's own Docker config (remote_base/.docker, mode
// 0700, config.json 0600), and none in the deploy user's ~/.docker, which
// other services share.
func (s *service) wantLoggedIn(n int) {
	t := s.t
	t.Helper()
	dir := s.base + "/.docker"
	out := ssh(t, n, fmt.Sprintf("stat -c %%a %[1]s %[1]s/config.json && cat %[1]s/config.json", remote.Quote(dir)))
	modes, conf, _ := strings.Cut(out, "\n")
	fileMode, conf, _ := strings.Cut(conf, "\n")
	if modes != "700" || fileMode != "600" {
		t.Fatalf("h%d: %s is mode %s and its config.json %s, want 700 and 600", n, dir, modes, fileMode)
	}
	var cfg struct{ Auths map[string]json.RawMessage }
	if err := json.Unmarshal([]byte(conf), &cfg); err != nil {
		t.Fatalf("h%d: %s/config.json: %v", n, dir, err)
	}
	if _, ok := cfg.Auths[suite.env.AuthRegistry]; !ok {
		t.Fatalf("h%d: the service's docker config holds no login for %s after the deploy:\n%s", n, suite.env.AuthRegistry, conf)
	}
	if home := ssh(t, n, "cat ~/.docker/config.json 2>/dev/null || true"); strings.Contains(home, suite.env.AuthRegistry) {
		t.Fatalf("h%d: the deploy logged the deploy user's ~/.docker/config.json in to %s, which every service shares:\n%s", n, suite.env.AuthRegistry, home)
	}
}

// Issue 8 §2: a deploy whose hoist.yml names a registry server the worker
// holds no credential for is refused before any host is touched, saying
// which server and where credentials are configured; nothing is sent
// anywhere.
func TestRegistryServerWithoutWorkerCredential(t *testing.T) {
	t.Parallel()
	s := newService(t, "regnocred", portRegistryNoCred, 1)
	const unknown = "10.77.0.1:5999"
	s.extra = registrySpec(unknown)
	r := s.deploy("v1", image("v1"))
	r.want(t, 2) // a set-up error: nothing was touched
	wantContains(t, "the deploy's output", r.stdout+r.stderr, "this worker holds no credential for registry "+unknown)
	if r.took > time.Minute {
		t.Errorf("the refusal took %s", r.took)
	}
	s.wantNoBase()
	h := s.deployHistory()
	for _, a := range h.activities() {
		if a != "CheckRegistry" {
			t.Fatalf("the deploy ran %s after the registry check refused it: %v", a, h.activities())
		}
	}
}

// An ECR credential's token goes only to the registry it was issued for:
// a worker whose ecr credential is filed under another server refuses the
// deploy, naming both, and the token reaches no host.
func TestRegistryECRServerMismatch(t *testing.T) {
	t.Parallel()
	const named = "10.77.0.1:5998"
	token := base64.StdEncoding.EncodeToString([]byte(suite.env.AuthUser + ":" + suite.password))
	ecr := newFakeECR(t, token, "https://"+suite.env.AuthRegistry)
	creds := registryCredentials(t, t.TempDir(), fmt.Sprintf("%q: {ecr: {region: us-west-2}}\n", named))
	queue, _ := startTestWorker(t, "ecr-mismatch", []string{
		"HOIST_REGISTRY_CREDENTIALS=" + creds,
		"AWS_ENDPOINT_URL_ECR=" + ecr.URL,
		"AWS_ACCESS_KEY_ID=AKIAE2EFAKEFAKEFAKE0",
		"AWS_SECRET_ACCESS_KEY=e2e-fake-secret-key",
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
	})
	s := newService(t, "regecrmis", portRegistryECRMismatch, 1)
	s.queue = queue
	s.extra = registrySpec(named)
	r := s.deploy("v1", image("v1"))
	if r.code == 0 {
		t.Fatalf("deploy with an ECR token for another registry succeeded\n%s", r)
	}
	wantContains(t, "the deploy's output", r.stdout+r.stderr, named, suite.env.AuthRegistry, "ProxyEndpoint")
	s.wantNoBase()
	wantNoSecret(t, "the deploy's workflow history", s.deployHistory().raw, map[string]string{"the ECR token": token, "the registry password": suite.password})
}

// psSampler reads host n's process list over SSH, every 50 ms, while a
// deploy runs. The test bed's hosts share the machine's pid namespace, so
// this sees every process there, hoist's own included.
type psSampler struct {
	t   *testing.T
	cmd *exec.Cmd
	out *syncBuffer
}

// syncBuffer is a bytes.Buffer safe to read while exec writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

const sampleEnd = "@@sample"

func samplePS(t *testing.T, n int) *psSampler {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command("ssh", "-F", suite.env.SSHConfig, fmt.Sprintf("h%d", n), "--",
		"while :; do ps -eo args || exit; echo "+sampleEnd+"; sleep 0.05; done")
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &psSampler{t: t, cmd: cmd, out: out}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	// The whole deploy is watched: wait for the first sample.
	for deadline := time.Now().Add(10 * time.Second); !bytes.Contains(out.Bytes(), []byte(sampleEnd)); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sampling the process list of h%d: no sample within 10s", n)
		}
	}
	return p
}

// stop ends the sampling and returns the samples.
func (p *psSampler) stop() []byte {
	p.t.Helper()
	p.cmd.Process.Kill()
	p.cmd.Wait()
	b := p.out.Bytes()
	n := bytes.Count(b, []byte(sampleEnd))
	login := bytes.Contains(b, []byte("docker login"))
	p.t.Logf("process list sampled %d times during the deploy (docker login caught in a sample: %v)", n, login)
	if n < 5 {
		p.t.Fatalf("the process list was sampled only %d times during the deploy", n)
	}
	return b
}

// The secret check must see through the encodings a workflow history
// uses, or it proves nothing.
func TestSecretCheckSeesEncodedPayloads(t *testing.T) {
	t.Parallel()
	secret := "s3cr3t-e2e-" + fmt.Sprint(time.Now().UnixNano())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	fmt.Fprintf(zw, "compose.yaml: password %s", secret)
	zw.Close()
	payload, _ := json.Marshal(map[string]any{"bundle": gz.Bytes(), "spec": map[string]string{"x": "y"}})
	for name, doc := range map[string]string{
		"plain":               `{"events":[{"message":"` + secret + `"}]}`,
		"base64 payload":      `{"events":[{"input":{"payloads":[{"data":"` + base64.StdEncoding.EncodeToString([]byte(`{"password":"`+secret+`"}`)) + `"}]}}]}`,
		"gzip'd bundle in it": `{"events":[{"input":{"payloads":[{"data":"` + base64.StdEncoding.EncodeToString(payload) + `"}]}}]}`,
	} {
		if findSecret([]byte(doc), []byte(secret), 0) == "" {
			t.Errorf("%s: the secret check misses the secret", name)
		}
	}
	if w := findSecret([]byte(`{"events":[{"data":"`+base64.StdEncoding.EncodeToString([]byte("nothing here"))+`"}]}`), []byte(secret), 0); w != "" {
		t.Errorf("the secret check finds a secret where there is none: %s", w)
	}
}

// wantNoSecret fails the test (and goes on, so every place a secret leaked
// to is named) when data holds any secret: as is, or inside any base64
// value (Temporal payloads, the bundle), gzip'd or not, at any depth.
func wantNoSecret(t *testing.T, what string, data []byte, secrets map[string]string) {
	t.Helper()
	for name, secret := range secrets {
		if secret == "" {
			t.Fatalf("empty secret %s", name)
		}
		if where := findSecret(data, []byte(secret), 0); where != "" {
			t.Errorf("%s appears in %s (%s)", name, what, where)
		}
	}
}

func findSecret(data, secret []byte, depth int) string {
	if bytes.Contains(data, secret) {
		return "in plain text"
	}
	if depth > 4 {
		return ""
	}
	if r, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
		if plain, err := io.ReadAll(io.LimitReader(r, 64<<20)); err == nil {
			if w := findSecret(plain, secret, depth+1); w != "" {
				return "gzip'd, " + w
			}
		}
	}
	var v any
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	var walk func(v any) string
	walk = func(v any) string {
		switch x := v.(type) {
		case string:
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding} {
				if b, err := enc.DecodeString(x); err == nil && len(b) > 0 {
					if w := findSecret(b, secret, depth+1); w != "" {
						return "base64, " + w
					}
				}
			}
		case []any:
			for _, e := range x {
				if w := walk(e); w != "" {
					return w
				}
			}
		case map[string]any:
			for _, e := range x {
				if w := walk(e); w != "" {
					return w
				}
			}
		}
		return ""
	}
	return walk(v)
}

// fakeECR answers ECR's GetAuthorizationToken (AWS JSON 1.1) with one
// authorization: token (base64 user:password) for proxyEndpoint.
type fakeECR struct {
	*httptest.Server
	mu    sync.Mutex
	calls []ecrCall
}

const ecrGetToken = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"

type ecrCall struct {
	method, target, auth string
}

func newFakeECR(t *testing.T, token, proxyEndpoint string) *fakeECR {
	f := &fakeECR{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		f.mu.Lock()
		f.calls = append(f.calls, ecrCall{method: r.Method, target: target, auth: r.Header.Get("Authorization")})
		f.mu.Unlock()
		if r.Method != http.MethodPost || target != ecrGetToken {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"UnknownOperationException","message":"fake ECR: %s %s"}`, r.Method, target)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(map[string]any{
			"authorizationData": []map[string]any{{
				"authorizationToken": token,
				"proxyEndpoint":      proxyEndpoint,
				"expiresAt":          time.Now().Add(12 * time.Hour).Unix(),
			}},
		})
	}))
	t.Cleanup(f.Close)
	return f
}

// seen returns the calls the endpoint answered.
func (f *fakeECR) seen() []ecrCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ecrCall(nil), f.calls...)
}
