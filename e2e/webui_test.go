//go:build integration

package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The Web UI in a real browser (issue 12, items 4 and 6): Debian's
// Chromium, driven by chromedp, against a ui-server of the test's own on
// the cluster, with payload encryption on and `hoist codec-server` as the
// UI's codec endpoint, behind authentication as in production:
//
//   - the UI has its OIDC login on, against an issuer the test runs (an
//     authorization-code flow, as Auth0 or Keycloak do it, that approves
//     every request); the browser logs in for real, through the UI's
//     /auth/sso;
//   - the UI passes the user's access token to the codec server
//     (codec.passAccessToken), which checks it as a JWT of that issuer for
//     its audience (--auth-jwks-url, --auth-issuer, --auth-audience);
//   - the codec server also has a static token (--auth-token-file), the
//     temporal CLI's way in, checked with `temporal workflow show
//     --codec-auth`.
//
// Why a real login and not a token written into the browser's storage:
// the UI keeps the user in localStorage "AuthUser" ({accessToken, idToken,
// ...}; ui/assets chunk DqwJ7e-o.js) and its codec fetch sends
// `Authorization: Bearer ${accessToken}` (chunk CSjjsQNi.js), but with the
// UI's auth off its root layout load clears that entry on every page load
// (nodes/2.*.js: `r.auth.enabled||Ua()`, Ua setting AuthUser to {}), so the
// UI passes a token only with its login on. With it on, the UI server
// checks every API call's ID token against the issuer (Authorization-
// Extras, server/auth/auth.go), so the token must come from an issuer the
// UI server trusts anyway: the test runs one and logs in through it.
//
// The scenario: a 3-host rollout of v1 with approve_after [1], approved
// with a note, then v2, whose app crashes, rolled back on h1 (its first
// batch). Screenshots are saved in artifacts/webui/.

// Ports of the Web UI test: the UI, the issuer and the codec server on
// 127.0.0.1, the app's published port on h1..h3.
const (
	portWebUI       = 18380
	portWebUIIssuer = 18381
	portWebUICodec  = 18382
	portWebUIApp    = 18383
)

// webUIAudience is the audience the codec server wants in access tokens,
// webUIClientID the UI's OIDC client, webUIUser who logs in by default.
const (
	webUIAudience = "hoist-codec"
	webUIClientID = "hoist-webui"
	webUIUser     = "alice@example.com"
)

func TestClusterWebUI(t *testing.T) {
	needCluster(t)
	c := suite.cluster
	chromium := needBrowser(t)
	shots := screenshotDir(t)
	dir := t.TempDir()

	// Payload keys for the worker, the CLI and the codec server.
	keyFile := filepath.Join(dir, "codec-keys")
	key := runHoist(t, dir, suite.queue, "codec-key", "--id", "webui")
	key.want(t, 0)
	writePrivate(t, keyFile, key.stdout)
	queue, _ := startTestWorker(t, "webui", []string{"HOIST_CODEC_KEY_FILE=" + keyFile})

	uiURL := fmt.Sprintf("http://127.0.0.1:%d", portWebUI)
	codecURL := fmt.Sprintf("https://127.0.0.1:%d", portWebUICodec)
	iss := startIssuer(t, fmt.Sprintf("127.0.0.1:%d", portWebUIIssuer), uiURL+"/auth/sso/callback")
	ca := newTestCA(t, dir)
	cliToken := rand.Text()
	codecLog := startCodecServer(t, dir, keyFile, ca, iss, uiURL, cliToken)
	startUI(t, dir, c.UIBin, uiURL, codecURL, iss)

	// The deploys.
	started := time.Now()
	s := rolloutService(t, "webui", portWebUIApp, "  batches: [1, \"100%\"]\n  approve_after: [1]\n")
	s.queue = queue
	enc := []string{"--codec-key-file", keyFile}
	note := "canary fine " + rand.Text()[:8]
	s.compose("v1", image("v1"))
	p := s.start(append(enc, "deploy", "--config", s.hoistYML(), "--version", "v1")...)
	s.waitForApproval(1)
	s.hoist(append(enc, "approve", "--config", s.hoistYML(), "--note", note)...).want(t, 0)
	p.wait(t, 2*time.Minute).want(t, 0)
	s.compose("v2", image("v2").crashing())
	crash := s.hoist(append(enc, "deploy", "--config", s.hoistYML(), "--version", "v2")...)
	crash.want(t, 1)
	s.wantServing(t, "v1", "v1", "v1")
	runs := runsByVersion(t, s.name, 2)
	rollout, failed := runs["v1"], runs["v2"]
	if rollout.Status != "WORKFLOW_EXECUTION_STATUS_COMPLETED" || failed.Status != "WORKFLOW_EXECUTION_STATUS_FAILED" {
		t.Fatalf("deploys of %s: v1 %s, v2 %s; want completed and failed", s.name, rollout.Status, failed.Status)
	}
	h1Start := latestRun(t, "deploy/"+s.name+"/h1/start")

	// The raw history holds the input, the approval and the failure
	// encrypted only; the checks in the browser below read them decoded.
	rawRollout := runHistory(t, "deploy/"+s.name, rollout.RunID)
	rawFailed := runHistory(t, "deploy/"+s.name, failed.RunID)
	ciphertext := wantEncrypted(t, rawRollout, "")
	wantEncrypted(t, rawFailed, "Encoded failure")
	wantNoSecret(t, "the rollout's raw history", rawRollout.raw, map[string]string{"the approval note": note, "the spec's remote_base": s.base})
	wantNoSecret(t, "the crash deploy's raw history", rawFailed.raw, map[string]string{"the spec's remote_base": s.base, "the crash's log line": "crashing now"})
	// The static token decodes the same history for the temporal CLI.
	out := temporalWithCodec(t, ca, codecURL, cliToken, "workflow", "show", "--workflow-id", "deploy/"+s.name, "--run-id", failed.RunID, "--output", "json")
	wantContains(t, "temporal workflow show through the codec server", out+payloadText(t, []byte(out)), `"remote_base":`, s.base)

	t.Logf("the deploys and the raw history checks took %s", time.Since(started).Round(100*time.Millisecond))
	started = time.Now()
	b := newBrowser(t, chromium, ca)
	page := func(id, run string) string {
		return fmt.Sprintf("%s/namespaces/default/workflows/%s/%s/history", uiURL, url.PathEscape(id), run)
	}

	// Alice logs in; the list filtered by service shows both deploys.
	alice := b.tab(t)
	listPath := "/namespaces/default/workflows?query=" + url.QueryEscape(fmt.Sprintf("HoistService=%q", s.name))
	b.login(t, alice, uiURL, listPath, webUIUser, webUIAudience)
	b.waitRows(t, alice, 2, "deploy/"+s.name)
	// Service, environment and version as columns (the search
	// attributes), as a user sets them in the column picker; status is
	// the outcome.
	for _, button := range []string{"workflows-summary-table-configuration-button",
		"orderable-list-item-Run ID-remove-button", "orderable-list-item-Start-remove-button",
		"orderable-list-item-HoistService-add-button", "orderable-list-item-HoistEnvironment-add-button",
		"orderable-list-item-HoistVersion-add-button", "drawer-close-button"} {
		b.click(t, alice, button)
	}
	b.waitGone(t, alice, "the column picker", "#workflows-table-configuration-drawer")
	rows := b.waitRows(t, alice, 2, s.name)
	wantRow(t, rows, "COMPLETED", "deploy/"+s.name, "Deploy", s.name, "production", "v1")
	wantRow(t, rows, "FAILED", "deploy/"+s.name, "Deploy", s.name, "production", "v2")
	b.shot(t, alice, shots, "01-list-filtered-by-service.png")

	// The rollout: each host's children by summary, the approval (the
	// decide Update) with its decoded outcome, and the decoded input.
	b.open(t, alice, page("deploy/"+s.name, rollout.RunID))
	b.compact(t, alice)
	b.waitText(t, alice, "the rollout's page",
		"COMPLETED",
		"deploy h1: prepare v1 (batch 1)", "deploy h2: prepare v1 (batch 2)", "deploy h3: prepare v1 (batch 2)",
		"deploy h1: start v1 (batch 1)", "deploy h2: start v1 (batch 2)", "deploy h3: start v1 (batch 2)",
		"Workflow Update", "decide", "approved: the rollout goes on with batch 2 of 2",
		`"remote_base": "`+s.base+`"`)
	b.shot(t, alice, shots, "02-rollout-steps-and-decoded-input.png")
	// The approval's row, opened: who approved, and the note.
	b.clickText(t, alice, "Workflow Update")
	b.waitText(t, alice, "the approval's details", note, `"by": "`)
	b.shot(t, alice, shots, "03-rollout-approval-by-and-note.png")

	// The crash deploy: the failure, decoded, and h1's failed start.
	b.open(t, alice, page("deploy/"+s.name, failed.RunID))
	b.compact(t, alice)
	b.waitText(t, alice, "the crash deploy's page",
		"FAILED", "deploy h1: start v2 (batch 1)",
		"Deployment of version v2 failed! Rolled back to v1.", "exited with exit code 1", "crashing now")
	b.shot(t, alice, shots, "04-crash-failure-decoded.png")

	// h1's start child: its steps and the rollback, by summary.
	b.open(t, alice, page("deploy/"+s.name+"/h1/start", h1Start))
	b.compact(t, alice)
	b.waitText(t, alice, "h1's start of v2",
		"FAILED", "h1: switch current", "h1: up", "h1: wait running",
		"h1: rollback: switch current to v1", "h1: rollback: up v1", "h1: rollback: verify v1 running", "h1: mark v2 failed")
	b.shot(t, alice, shots, "05-crash-h1-rollback-steps.png")
	// Every decode the browser asked for was served, for Alice's token.
	fromUI := countLines(t, codecLog, "origin="+uiURL)
	if served := countLines(t, codecLog, "origin="+uiURL, "who="+webUIUser, "auth=jwt", "status=200"); fromUI == 0 || served != fromUI {
		t.Fatalf("the codec server served %d of the browser's %d requests for %s's token:\n%s", served, fromUI, webUIUser, tail(codecLog, 20))
	}

	// Bob's access token is for another API: the UI server lets him in
	// (his ID token is good), the codec server refuses it (401), and the
	// same page shows the input and the approval still encrypted.
	bob := b.tab(t)
	b.login(t, bob, uiURL, "/namespaces/default/workflows", "bob@example.com", "another-api")
	before := countLines(t, codecLog, `reason="jwt: audience is not \"`+webUIAudience+`\""`)
	b.open(t, bob, page("deploy/"+s.name, rollout.RunID))
	b.compact(t, bob)
	b.waitText(t, bob, "the rollout's page without a valid codec token", "COMPLETED", "Workflow Update", ciphertext)
	waitLog(t, codecLog, before, `reason="jwt: audience is not \"`+webUIAudience+`\""`)
	b.wantNoText(t, bob, "the rollout's page without a valid codec token", `"remote_base"`, "approved: the rollout goes on", s.base)
	b.shot(t, bob, shots, "06-wrong-token-input-encrypted.png")
	t.Logf("the browser's part took %s", time.Since(started).Round(100*time.Millisecond))
}

// needBrowser fails (never skips) without Chromium or the UI server.
func needBrowser(t *testing.T) string {
	t.Helper()
	c := suite.cluster
	for _, need := range []struct{ what, path string }{
		{"Chromium (HOIST_TB_CHROMIUM)", c.Chromium},
		{"the ui-server binary (HOIST_TB_CLUSTER_UI_BIN)", c.UIBin},
	} {
		if fi, err := os.Stat(need.path); need.path == "" || err != nil || fi.Mode()&0o111 == 0 {
			t.Fatalf("%s is missing (%q: %v): the browser test needs Debian's chromium (`apt-get install chromium`) and the cluster's UI; `make cluster-up` installs and builds both", need.what, need.path, err)
		}
	}
	return c.Chromium
}

// screenshotDir is artifacts/webui at the repository's root, emptied of
// the screenshots of an earlier run.
func screenshotDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "artifacts", "webui"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(d, "*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	return d
}

func writePrivate(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------- the OIDC issuer

// oidcIssuer is an OpenID provider for one client that approves every
// authorization request at once: discovery, JWKS, /authorize and /token
// for the code it gave. Its tokens are RS256 JWTs. As Auth0 takes them,
// the audience parameter says whom the access token is for, and
// login_hint who logs in.
type oidcIssuer struct {
	url, callback, secret string
	key                   *rsa.PrivateKey
	mu                    sync.Mutex
	codes                 map[string]oidcGrant
}

type oidcGrant struct{ nonce, audience, user string }

func startIssuer(t *testing.T, addr, callback string) *oidcIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	iss := &oidcIssuer{url: "http://" + addr, callback: callback, secret: rand.Text(), key: key, codes: map[string]oidcGrant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", iss.discovery)
	mux.HandleFunc("GET /jwks", iss.jwks)
	mux.HandleFunc("GET /authorize", iss.authorize)
	mux.HandleFunc("POST /token", iss.token)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the test's OIDC issuer: %v", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return iss
}

func (iss *oidcIssuer) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{
		"issuer": iss.url, "authorization_endpoint": iss.url + "/authorize", "token_endpoint": iss.url + "/token",
		"jwks_uri": iss.url + "/jwks", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (iss *oidcIssuer) jwks(w http.ResponseWriter, r *http.Request) {
	pub := iss.key.PublicKey
	writeJSON(w, map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "webui", "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

func (iss *oidcIssuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != webUIClientID || q.Get("redirect_uri") != iss.callback || q.Get("response_type") != "code" {
		http.Error(w, "unexpected authorization request", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	iss.mu.Lock()
	iss.codes[code] = oidcGrant{nonce: q.Get("nonce"), audience: q.Get("audience"), user: q.Get("login_hint")}
	iss.mu.Unlock()
	back, _ := url.Parse(iss.callback)
	v := url.Values{"code": {code}, "state": {q.Get("state")}}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (iss *oidcIssuer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	iss.mu.Lock()
	g, found := iss.codes[r.PostForm.Get("code")]
	delete(iss.codes, r.PostForm.Get("code"))
	iss.mu.Unlock()
	if id != webUIClientID || secret != iss.secret || !found || g.user == "" || r.PostForm.Get("grant_type") != "authorization_code" {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]string{"error": "invalid_grant"})
		return
	}
	now := time.Now()
	claims := func(aud string) map[string]any {
		name, _, _ := strings.Cut(g.user, "@")
		return map[string]any{"iss": iss.url, "sub": g.user, "aud": aud, "email": g.user, "name": name,
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	idClaims := claims(webUIClientID)
	idClaims["nonce"] = g.nonce
	writeJSON(w, map[string]any{"access_token": iss.sign(claims(g.audience)), "token_type": "Bearer", "expires_in": 3600, "id_token": iss.sign(idClaims)})
}

// sign makes an RS256 JWT of claims.
func (iss *oidcIssuer) sign(claims map[string]any) string {
	seg := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := seg(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "webui"}) + "." + seg(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, iss.key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// ---------------------------------------------------------------- TLS of the codec server

// testCA is a CA made for the test and the codec server's certificate
// for 127.0.0.1, signed by it, in PEM files.
type testCA struct {
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
	spki                      string // base64 SHA-256 of the CA's SubjectPublicKeyInfo
}

func newTestCA(t *testing.T, dir string) *testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hoist e2e web UI test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{caFile: filepath.Join(dir, "webui-ca.pem"), certFile: filepath.Join(dir, "codec.pem"), keyFile: filepath.Join(dir, "codec-key.pem"), pool: x509.NewCertPool()}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	writePrivate(t, ca.caFile, string(caPEM))
	// The chain: the server's certificate, then the CA's (Chromium matches
	// the CA's key in the chain it is sent, see newBrowser).
	writePrivate(t, ca.certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))+string(caPEM))
	writePrivate(t, ca.keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	ca.pool.AddCert(caCert)
	sum := sha256.Sum256(caCert.RawSubjectPublicKeyInfo)
	ca.spki = base64.StdEncoding.EncodeToString(sum[:])
	return ca
}

// ---------------------------------------------------------------- the codec server and the UI

// daemon is a process the test starts and stops.
func daemon(t *testing.T, name, logPath string, env []string, ready func() error, argv ...string) {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s log (%s), last lines:\n%s", name, logPath, tail(logPath, 30))
		}
	})
	var last error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("%s exited before it served:\n%s", name, tail(logPath, 30))
		default:
		}
		if last = ready(); last == nil {
			return
		}
	}
	t.Fatalf("%s did not serve within 30s: %v\n%s", name, last, tail(logPath, 30))
}

// startCodecServer runs `hoist codec-server` on https with the payload
// keys, for the UI's origin, accepting the issuer's access tokens for
// webUIAudience and the static token cliToken. It returns its log.
func startCodecServer(t *testing.T, dir, keyFile string, ca *testCA, iss *oidcIssuer, uiURL, cliToken string) string {
	t.Helper()
	tokens := filepath.Join(dir, "codec-tokens")
	writePrivate(t, tokens, "# the temporal CLI of the web UI test\ncli "+cliToken+"\n")
	logPath := filepath.Join(suite.tmp, "webui-codec-server.log")
	addr := fmt.Sprintf("127.0.0.1:%d", portWebUICodec)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}}
	ready := func() error {
		// Up, on TLS, and refusing a request without a token.
		resp, err := hc.Post("https://"+addr+"/decode", "application/json", strings.NewReader(`{"payloads":[]}`))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			return fmt.Errorf("a /decode without a token: %s, want 401", resp.Status)
		}
		return nil
	}
	daemon(t, "hoist codec-server", logPath, append(cleanEnv(), "HOIST_CODEC_KEY_FILE="+keyFile), ready,
		suite.bin, "codec-server", "--listen", addr, "--allow-origin", uiURL,
		"--auth-token-file", tokens,
		"--auth-jwks-url", iss.url+"/jwks", "--auth-issuer", iss.url, "--auth-audience", webUIAudience,
		"--tls-cert-file", ca.certFile, "--tls-key-file", ca.keyFile)
	return logPath
}

// startUI runs the cluster's ui-server build with a config of the test's
// own (the format of start_ui in scripts/testbed/cluster.sh): the
// cluster over mTLS, the issuer's login, the codec server as the codec
// endpoint with "pass access token" on.
func startUI(t *testing.T, dir, bin, uiURL, codecURL string, iss *oidcIssuer) {
	t.Helper()
	c := suite.cluster
	serverName, _, err := net.SplitHostPort(c.Address)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "ui")
	if err := os.MkdirAll(filepath.Join(root, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`# the e2e web UI test's UI server
temporalGrpcAddress: %[1]s
host: 127.0.0.1
port: %[2]d
enableUi: true
defaultNamespace: default
disableNewsFetch: true
cors:
  allowOrigins: ["%[3]s"]
tls:
  caFile: %[4]s
  certFile: %[5]s
  keyFile: %[6]s
  serverName: %[7]s
  enableHostVerification: true
auth:
  enabled: true
  providers:
    - label: e2e issuer
      type: oidc
      providerUrl: %[8]s
      clientId: %[9]s
      clientSecret: %[10]s
      scopes: [openid, profile, email]
      callbackUrl: %[3]s/auth/sso/callback
      options:
        audience: %[11]s
        login_hint: %[13]s
codec:
  endpoint: %[12]s
  passAccessToken: true
`, c.Address, portWebUI, uiURL, c.TLSCA, c.TLSCert, c.TLSKey, serverName, iss.url, webUIClientID, iss.secret, webUIAudience, codecURL, webUIUser)
	writePrivate(t, filepath.Join(root, "config", "webui.yaml"), cfg)
	ready := func() error {
		_, err := get(uiURL + "/")
		return err
	}
	daemon(t, "ui-server", filepath.Join(suite.tmp, "webui-ui-server.log"), cleanEnv(), ready,
		bin, "--root", root, "--config", "config", "--env", "webui", "start")
}

// ---------------------------------------------------------------- the browser

// browser is one headless Chromium; each tab is a browser context of its
// own (cookies and storage apart), as two people's browsers.
type browser struct {
	first context.Context // the first tab, which starts Chromium
}

// newBrowser starts Chromium as this machine needs it: root (no sandbox),
// no GPU, no network beyond loopback (nothing in the background), a
// fresh profile.
//
// The codec server's certificate: Chromium on Linux takes local trust
// anchors from the NSS database in $HOME/.pki/nssdb, which only certutil
// (libnss3-tools, not installed here) writes. So the test names its CA
// by the hash of its public key in --ignore-certificate-errors-spki-list:
// a chain holding that key is accepted, any other certificate error
// still fails (Chromium honours the flag only with --user-data-dir). Not
// --ignore-certificate-errors, which accepts anything.
func newBrowser(t *testing.T, chromium string, ca *testCA) *browser {
	t.Helper()
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", ca.spki),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1800, 1600),
	)
	t.Cleanup(cancel)
	first, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(first); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	return &browser{first: first}
}

// tab opens a tab in a new browser context.
func (b *browser) tab(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.first, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The tab lives as long as the context of its first run: this one,
	// not the timeouts of the steps after it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browser: a new tab: %v", err)
	}
	return ctx
}

// do runs steps, failing the test with what it was doing.
func (b *browser) do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatalf("browser: %s: %v\npage text:\n%s", what, err, b.text(ctx))
	}
}

// login goes through the UI's OIDC login as user (/auth/sso: the issuer,
// the callback, the UI) and lands on path, the UI then holding the user in
// its localStorage "AuthUser"; audience is whom the access token is for.
// (The UI server passes its provider's options on to the issuer, each
// replaced by a query parameter of the same name.)
func (b *browser) login(t *testing.T, ctx context.Context, uiURL, path, user, audience string) {
	t.Helper()
	sso := uiURL + "/auth/sso?" + url.Values{"returnUrl": {path}, "login_hint": {user}, "audience": {audience}}.Encode()
	b.do(t, ctx, "logging in", chromedp.Navigate(sso))
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	js := fmt.Sprintf(`location.pathname + location.search === %q && !!(JSON.parse(localStorage.getItem("AuthUser") || "{}").accessToken)`, path)
	if _, err := chromedp.Run(pctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		t.Fatalf("browser: the login did not land on %s with a user (at %s): %v\npage text:\n%s", path, b.eval(ctx, "location.href"), err, b.text(ctx))
	}
}

// open loads a page of the UI.
func (b *browser) open(t *testing.T, ctx context.Context, u string) {
	t.Helper()
	b.do(t, ctx, "opening "+u, chromedp.Navigate(u))
}

// click clicks the element of a data-testid once it is there. It calls
// the element's click(), not a mouse event at its place: the column
// picker re-renders its lists after each change, so a node found by a
// query is often gone by the time the mouse would reach it.
func (b *browser) click(t *testing.T, ctx context.Context, testID string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; e.scrollIntoView({block: "center"}); e.click(); return true })()`,
		`[data-testid="`+testID+`"]`)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(pctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		t.Fatalf("browser: clicking %s: %v\npage text:\n%s", testID, err, b.text(ctx))
	}
}

// clickText clicks the innermost element whose text is text, once there
// is one (a row of the event history opens on a click on its type).
func (b *browser) clickText(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const e = [...document.querySelectorAll("body *")].reverse().find(e => e.innerText && e.innerText.trim() === %q);
		if (!e) return false; e.scrollIntoView({block: "center"}); e.click(); return true })()`, text)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(pctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		t.Fatalf("browser: clicking %q: %v\npage text:\n%s", text, err, b.text(ctx))
	}
}

// waitGone waits (at most 30 s) until no element matches css: a drawer
// closed, its animation over.
func (b *browser) waitGone(t *testing.T, ctx context.Context, what, css string) {
	t.Helper()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(pctx, chromedp.Poll[bool](fmt.Sprintf(`!document.querySelector(%q)`, css), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		t.Fatalf("browser: %s is still there: %v", what, err)
	}
}

// compact switches a workflow's event history to its compact view: one
// row per activity, child workflow, timer or update, with its summary.
// The click is repeated until the view shows: a click that lands while
// the page is still loading its history is lost (seen in CI: the page
// stayed on All, whose rows name no Update). Compact is known by what it
// leaves out, the workflow task events every history has, once a row of
// its own (a child workflow, an activity) is there.
func (b *browser) compact(t *testing.T, ctx context.Context) {
	t.Helper()
	js := fmt.Sprintf(`(() => {
		const text = %s;
		if (text.includes("Workflow Task Started")) {
			const btn = document.querySelector('[data-testid="compact"]') ||
				[...document.querySelectorAll("button")].find(e => e.innerText.trim() === "Compact");
			if (btn) btn.click();
			return false;
		}
		// Loaded: a row of the compact view (child workflows, activities).
		return /Child Workflow|Activity/.test(text);
	})()`, pageTextJS)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(pctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(500*time.Millisecond))); err != nil {
		t.Fatalf("browser: the compact event history did not show: %v\npage text:\n%s", err, b.text(ctx))
	}
}

// pageTextJS is the page's visible text, with that of its iframes: the
// UI renders each event's summary as Markdown in an iframe of its own
// (same origin, so readable).
const pageTextJS = `[document, ...[...document.querySelectorAll("iframe")].map(f => f.contentDocument)]
	.map(d => d && d.body ? d.body.innerText : "").join("\n")`

// waitText waits (at most 30 s) until the page's text holds every part.
func (b *browser) waitText(t *testing.T, ctx context.Context, what string, parts ...string) {
	t.Helper()
	want, _ := json.Marshal(parts)
	js := fmt.Sprintf(`(() => { const text = %s; return %s.every(p => text.includes(p)) })()`, pageTextJS, want)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(pctx, chromedp.Poll[bool](js, chromedp.WithPollingInterval(200*time.Millisecond))); err != nil {
		text := b.text(ctx)
		var missing []string
		for _, p := range parts {
			if !strings.Contains(text, p) {
				missing = append(missing, p)
			}
		}
		t.Fatalf("browser: %s lacks %q (%v)\npage text:\n%s", what, missing, err, text)
	}
}

// wantNoText fails if the page's text holds any of parts.
func (b *browser) wantNoText(t *testing.T, ctx context.Context, what string, parts ...string) {
	t.Helper()
	text := b.text(ctx)
	for _, p := range parts {
		if strings.Contains(text, p) {
			t.Fatalf("browser: %s shows %q\npage text:\n%s", what, p, text)
		}
	}
}

// waitRows waits until the workflow table has n rows holding all of
// parts, and returns their text.
func (b *browser) waitRows(t *testing.T, ctx context.Context, n int, parts ...string) []string {
	t.Helper()
	want, _ := json.Marshal(parts)
	js := fmt.Sprintf(`(() => { const rows = [...document.querySelectorAll("table tbody tr")].map(r => r.innerText);
		return rows.length === %d && rows.every(r => %s.every(p => r.includes(p))) ? rows : null })()`, n, want)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rows, err := chromedp.Run(pctx, chromedp.Poll[[]string](js, chromedp.WithPollingInterval(200*time.Millisecond)))
	if err != nil {
		t.Fatalf("browser: the table has not %d rows with %q (%v)\npage text:\n%s", n, parts, err, b.text(ctx))
	}
	return rows
}

func wantRow(t *testing.T, rows []string, parts ...string) {
	t.Helper()
	for _, r := range rows {
		cells := strings.Fields(r)
		ok := true
		for _, p := range parts {
			found := false
			for _, c := range cells {
				found = found || c == p
			}
			ok = ok && found
		}
		if ok {
			return
		}
	}
	t.Fatalf("no row of the list shows %q:\n%s", parts, strings.Join(rows, "\n"))
}

// text is the page's visible text (for failure messages).
func (b *browser) text(ctx context.Context) string {
	return b.eval(ctx, pageTextJS)
}

// eval is the string value of a JavaScript expression, or why not.
func (b *browser) eval(ctx context.Context, js string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return s
}

// shot saves a full-page PNG into dir as name.
func (b *browser) shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// ---------------------------------------------------------------- Temporal's side

// listedRun is one Deploy run of a service, from the visibility store.
type listedRun struct {
	RunID, Status string
}

// runsByVersion waits until the visibility store lists n closed deploys of
// service (by HoistService) and returns them by version.
func runsByVersion(t *testing.T, service string, n int) map[string]listedRun {
	t.Helper()
	var last []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, err := temporal(t, "workflow", "list", "--query", fmt.Sprintf("HoistService = '%s'", service), "--output", "json")
		if err != nil {
			t.Fatal(err)
		}
		last = out
		var list []struct {
			Execution struct {
				RunID string `json:"runId"`
			}
			Status           string
			CloseTime        string
			SearchAttributes struct {
				IndexedFields map[string]struct{ Data []byte }
			}
		}
		if err := json.Unmarshal(out, &list); err != nil {
			t.Fatalf("temporal workflow list: %v\n%s", err, out)
		}
		runs := map[string]listedRun{}
		for _, e := range list {
			var v string
			json.Unmarshal(e.SearchAttributes.IndexedFields["HoistVersion"].Data, &v)
			if e.CloseTime != "" {
				runs[v] = listedRun{RunID: e.Execution.RunID, Status: e.Status}
			}
		}
		if len(list) == n && len(runs) == n {
			return runs
		}
	}
	t.Fatalf("the visibility store does not list %d closed deploys of %s:\n%s", n, service, last)
	return nil
}

// latestRun is the run ID of workflow id's newest run.
func latestRun(t *testing.T, id string) string {
	t.Helper()
	out, err := temporal(t, "workflow", "describe", "--workflow-id", id, "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		WorkflowExecutionInfo struct {
			Execution struct {
				RunID string `json:"runId"`
			}
		}
	}
	if err := json.Unmarshal(out, &d); err != nil || d.WorkflowExecutionInfo.Execution.RunID == "" {
		t.Fatalf("temporal workflow describe %s: %v\n%s", id, err, out)
	}
	return d.WorkflowExecutionInfo.Execution.RunID
}

func runHistory(t *testing.T, id, run string) *history {
	t.Helper()
	out, err := temporal(t, "workflow", "show", "--workflow-id", id, "--run-id", run, "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	h := &history{raw: out}
	if err := json.Unmarshal(out, h); err != nil {
		t.Fatalf("history of %s run %s: %v", id, run, err)
	}
	return h
}

// wantEncrypted checks the raw history as TestSecretsNeverInHistory does:
// the input is one binary/encrypted payload, and the failure (when
// failure is not "") is the SDK's "Encoded failure", its message inside
// the encrypted attributes. It returns the start of the input's data, in
// base64 as the UI shows a payload it cannot decode.
func wantEncrypted(t *testing.T, h *history, failure string) string {
	t.Helper()
	var raw struct {
		Events []struct {
			WorkflowExecutionStartedEventAttributes *struct {
				Input struct {
					Payloads []struct {
						Metadata map[string][]byte
						Data     []byte
					}
				}
			}
			WorkflowExecutionFailedEventAttributes *struct{ Failure struct{ Message string } }
		}
	}
	if err := json.Unmarshal(h.raw, &raw); err != nil {
		t.Fatal(err)
	}
	var input, failed, data string
	for _, e := range raw.Events {
		if a := e.WorkflowExecutionStartedEventAttributes; a != nil && len(a.Input.Payloads) == 1 {
			input = string(a.Input.Payloads[0].Metadata["encoding"])
			data = base64.StdEncoding.EncodeToString(a.Input.Payloads[0].Data)
		}
		if a := e.WorkflowExecutionFailedEventAttributes; a != nil {
			failed = a.Failure.Message
		}
	}
	if input != "binary/encrypted" || failed != failure {
		t.Fatalf("raw history: input encoding %q, failure message %q; want binary/encrypted and %q", input, failed, failure)
	}
	return data[:min(len(data), 48)]
}

// temporalWithCodec runs the temporal CLI through the codec server with a
// static token, trusting the test's CA (SSL_CERT_FILE: the CLI is Go).
func temporalWithCodec(t *testing.T, ca *testCA, codecURL, token string, args ...string) string {
	t.Helper()
	ctx := withTimeout(t, time.Minute)
	args = append(args, temporalCLIFlags()...)
	args = append(args, "--codec-endpoint", codecURL, "--codec-auth", "Bearer "+token)
	cmd := exec.CommandContext(ctx, suite.env.TemporalBin, args...)
	cmd.Env = append(cleanEnv(), "SSL_CERT_FILE="+ca.caFile)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("temporal %s (the token elided): %v\n%s", args[0], err, errb.String())
	}
	return out.String()
}

// ---------------------------------------------------------------- the codec server's log

func countLines(t *testing.T, path string, parts ...string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if hasAll(l, parts) {
			n++
		}
	}
	return n
}

func hasAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// waitLog waits (at most 30 s) for more than before lines holding parts.
func waitLog(t *testing.T, path string, before int, parts ...string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if countLines(t, path, parts...) > before {
			return
		}
	}
	t.Fatalf("no new line of %s holds %q:\n%s", path, parts, tail(path, 20))
}
