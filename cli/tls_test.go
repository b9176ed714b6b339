package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
)

// testPKI is a CA, a frontend certificate and a client certificate it
// signed, and an unrelated CA with a client certificate of its own, as
// PEM files in a temporary directory.
type testPKI struct {
	dir                            string
	ca, wrongCA                    string // CA certificate files
	serverCert, serverKey          string // for 127.0.0.1, localhost, frontend.hoist.test
	clientCert, clientKey          string // signed by ca, for client authentication
	wrongClientCert, wrongClientKy string // signed by wrongCA
	caCert                         *x509.Certificate
}

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial int64

func newTestCert(t *testing.T, tmpl *x509.Certificate, parent *testCA) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func newTestCA(t *testing.T, name string) *testCA {
	cert, key := newTestCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil)
	return &testCA{cert, key}
}

func writePEM(t *testing.T, path string, cert *x509.Certificate, key *ecdsa.PrivateKey) {
	t.Helper()
	var b bytes.Buffer
	if cert != nil {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	}
	if key != nil {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		_ = pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func clientTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{dir: dir}
	file := func(name string) string { return filepath.Join(dir, name) }
	ca, wrong := newTestCA(t, "hoist test CA"), newTestCA(t, "hoist wrong CA")
	p.caCert = ca.cert
	p.ca, p.wrongCA = file("ca.pem"), file("wrong-ca.pem")
	writePEM(t, p.ca, ca.cert, nil)
	writePEM(t, p.wrongCA, wrong.cert, nil)

	server, serverKey := newTestCert(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "frontend"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost", "frontend.hoist.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}, ca)
	p.serverCert, p.serverKey = file("server.pem"), file("server-key.pem")
	writePEM(t, p.serverCert, server, nil)
	writePEM(t, p.serverKey, nil, serverKey)

	cl, clKey := newTestCert(t, clientTemplate("hoist"), ca)
	p.clientCert, p.clientKey = file("client.pem"), file("client-key.pem")
	writePEM(t, p.clientCert, cl, nil)
	writePEM(t, p.clientKey, nil, clKey)

	wcl, wclKey := newTestCert(t, clientTemplate("intruder"), wrong)
	p.wrongClientCert, p.wrongClientKy = file("wrong-client.pem"), file("wrong-client-key.pem")
	writePEM(t, p.wrongClientCert, wcl, nil)
	writePEM(t, p.wrongClientKy, nil, wclKey)
	return p
}

// serverTLS is the frontend's TLS config; with clientCA, it requires a
// client certificate signed by it (mTLS).
func (p *testPKI) serverTLS(t *testing.T, clientCA bool) *tls.Config {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	if clientCA {
		pool := x509.NewCertPool()
		pool.AddCert(p.caCert)
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg
}

// fakeFrontend answers what the SDK's client.Dial asks (GetSystemInfo:
// SDK v1.51 checks the connection with it, not with grpc.health.v1) and
// records the authorization metadata of every call.
type fakeFrontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	mu    sync.Mutex
	auth  []string
	calls int
}

func (f *fakeFrontend) GetSystemInfo(context.Context, *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	return &workflowservice.GetSystemInfoResponse{Capabilities: &workflowservice.GetSystemInfoResponse_Capabilities{}}, nil
}

func (f *fakeFrontend) record(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.calls++
	f.auth = append(f.auth, md.Get("authorization")...)
	f.mu.Unlock()
	return next(ctx, req)
}

func (f *fakeFrontend) seen() (calls int, auth []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, append([]string(nil), f.auth...)
}

// startFrontend serves a fake frontend on 127.0.0.1, with TLS unless cfg
// is nil.
func startFrontend(t *testing.T, cfg *tls.Config) (string, *fakeFrontend) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeFrontend{}
	opts := []grpc.ServerOption{grpc.UnaryInterceptor(f.record)}
	if cfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	srv := grpc.NewServer(opts...)
	workflowservice.RegisterWorkflowServiceServer(srv, f)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), f
}

// connectionEnv are the variables that change a connection: cleared for
// every test, so the runner's own shell does not leak in.
var connectionEnv = []string{"TEMPORAL_TLS", "TEMPORAL_TLS_CA", "TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_CERT", "TEMPORAL_TLS_CLIENT_CERT_PATH",
	"TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CLIENT_KEY_PATH", "TEMPORAL_TLS_SERVER_NAME", "TEMPORAL_API_KEY", "HOIST_API_KEY_FILE", "TEMPORAL_ADDRESS", "HOIST_CODEC_KEYS", "HOIST_CODEC_KEY_FILE"}

func clearConnectionEnv(t *testing.T) {
	for _, k := range connectionEnv {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// runDial runs `hoist ARGS` where ARGS name the command "probe", which
// dials Temporal as every command does (dial), and returns the exit code
// and everything printed.
func runDial(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	s := Streams{In: strings.NewReader(""), Out: &out, Err: &out}
	app := NewApp(s)
	probe := &ucli.Command{Name: "probe", Action: func(c *ucli.Context) error {
		cl, err := dial(c, s)
		if err != nil {
			return err
		}
		cl.Close()
		return nil
	}}
	checkCommandLine(probe)
	acceptGlobalFlags(probe)
	app.Commands = append(app.Commands, probe)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := report(ctx, &out, app.RunContext(ctx, flagsFirst(app, append([]string{"hoist"}, args...))))
	return code, out.String()
}

func wantDial(t *testing.T, wantCode int, want string, args ...string) string {
	t.Helper()
	start := time.Now()
	code, out := runDial(t, args...)
	if code != wantCode || !strings.Contains(out, want) {
		t.Errorf("hoist %s: exit %d, output %q; want exit %d and %q", strings.Join(args, " "), code, out, wantCode, want)
	}
	t.Logf("hoist %s: exit %d in %v: %s", strings.Join(args, " "), code, time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))
	return out
}

func TestTLSVerifiesTheFrontendAgainstTLSCA(t *testing.T) {
	clearConnectionEnv(t)
	p := newTestPKI(t)
	addr, f := startFrontend(t, p.serverTLS(t, false))
	wantDial(t, ExitOK, "", "--temporal-address", addr, "--tls-ca", p.ca, "probe")
	// Given after the command, and from the temporal CLI's variable.
	wantDial(t, ExitOK, "", "probe", "--temporal-address", addr, "--tls-ca", p.ca)
	t.Setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", p.ca)
	wantDial(t, ExitOK, "", "--temporal-address", addr, "probe")
	if calls, _ := f.seen(); calls < 3 {
		t.Errorf("the frontend saw %d calls, want one per dial", calls)
	}
	// The name to verify, when the address is not in the certificate.
	wantDial(t, ExitOK, "", "--temporal-address", addr, "--tls-server-name", "frontend.hoist.test", "probe")
}

func TestTLSRefusesAFrontendTheCADidNotSign(t *testing.T) {
	clearConnectionEnv(t)
	p := newTestPKI(t)
	addr, f := startFrontend(t, p.serverTLS(t, false))
	out := wantDial(t, ExitUsage, "is not signed by --tls-ca "+p.wrongCA, "--temporal-address", addr, "--tls-ca", p.wrongCA, "probe")
	if !strings.Contains(out, `issued by "CN=hoist test CA"`) || !strings.Contains(out, addr) {
		t.Errorf("the message names neither the certificate's issuer nor the address: %q", out)
	}
	// --tls alone trusts the system's CAs, which did not sign it either.
	wantDial(t, ExitUsage, "which is not signed by the system's CAs (pass --tls-ca FILE", "--temporal-address", addr, "--tls", "probe")
	wantDial(t, ExitUsage, `is not for "db.example.com"`, "--temporal-address", addr, "--tls-ca", p.ca, "--tls-server-name", "db.example.com", "probe")
	if calls, _ := f.seen(); calls != 0 {
		t.Errorf("the frontend answered %d calls over connections the client should have refused", calls)
	}

	// A certificate that expired.
	ca := newTestCA(t, "hoist test CA 2")
	old, oldKey := newTestCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "frontend"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}, ca)
	caFile := filepath.Join(p.dir, "ca2.pem")
	writePEM(t, caFile, ca.cert, nil)
	expired, _ := startFrontend(t, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{old.Raw}, PrivateKey: oldKey}}})
	wantDial(t, ExitUsage, "the Temporal frontend's certificate at "+expired+" is not valid: tls: failed to verify certificate: x509: certificate has expired", "--temporal-address", expired, "--tls-ca", caFile, "probe")
}

func TestMTLS(t *testing.T) {
	clearConnectionEnv(t)
	p := newTestPKI(t)
	addr, _ := startFrontend(t, p.serverTLS(t, true))
	wantDial(t, ExitOK, "", "--temporal-address", addr, "--tls-ca", p.ca, "--tls-cert", p.clientCert, "--tls-key", p.clientKey, "probe")
	t.Setenv("TEMPORAL_TLS_CERT", p.clientCert)
	t.Setenv("TEMPORAL_TLS_KEY", p.clientKey)
	wantDial(t, ExitOK, "", "--temporal-address", addr, "--tls-ca", p.ca, "probe")
	os.Unsetenv("TEMPORAL_TLS_CERT")
	os.Unsetenv("TEMPORAL_TLS_KEY")

	wantDial(t, ExitUsage, "requires a client certificate (mTLS) and got none", "--temporal-address", addr, "--tls-ca", p.ca, "probe")
	wantDial(t, ExitUsage, "refused the client certificate --tls-cert "+p.wrongClientCert+`, issued by "CN=hoist wrong CA"`, "--temporal-address", addr, "--tls-ca", p.ca, "--tls-cert", p.wrongClientCert, "--tls-key", p.wrongClientKy, "probe")
}

func TestTLSAndPlaintextMismatch(t *testing.T) {
	clearConnectionEnv(t)
	p := newTestPKI(t)
	tlsAddr, _ := startFrontend(t, p.serverTLS(t, false))
	wantDial(t, ExitUsage, "the Temporal frontend at "+tlsAddr+" requires TLS: pass --tls", "--temporal-address", tlsAddr, "probe")
	plainAddr, _ := startFrontend(t, nil)
	wantDial(t, ExitOK, "", "--temporal-address", plainAddr, "probe")
	wantDial(t, ExitUsage, "does not answer TLS", "--temporal-address", plainAddr, "--tls-ca", p.ca, "probe")
	// Nothing listens: the message stays the one of a server that is down.
	wantDial(t, ExitUsage, "cannot reach Temporal at 127.0.0.1:1", "--temporal-address", "127.0.0.1:1", "--tls-ca", p.ca, "probe")
}

func TestAPIKeyIsABearerTokenOverTLSAndNeverPrinted(t *testing.T) {
	clearConnectionEnv(t)
	p := newTestPKI(t)
	addr, f := startFrontend(t, p.serverTLS(t, false))
	const key = "hoist-test-api-key.Zm9vYmFy"
	t.Setenv(envAPIKey, key)
	wantDial(t, ExitOK, "", "--temporal-address", addr, "--tls-ca", p.ca, "probe")
	// An API key alone means TLS with the system's CAs (Temporal Cloud):
	// here they refuse the test CA, which a plaintext client never sees.
	out := wantDial(t, ExitUsage, "not signed by the system's CAs", "--temporal-address", addr, "probe")
	out += wantDial(t, ExitUsage, "is not signed by --tls-ca", "--temporal-address", addr, "--tls-ca", p.wrongCA, "probe")
	out += wantDial(t, ExitUsage, "both --api-key-file and TEMPORAL_API_KEY are set", "--temporal-address", addr, "--api-key-file", p.ca, "probe")
	out += wantDial(t, ExitUsage, "but an API key (TEMPORAL_API_KEY) needs it", "--temporal-address", addr, "--tls=false", "probe")
	os.Unsetenv(envAPIKey)

	file := filepath.Join(p.dir, "api-key")
	if err := os.WriteFile(file, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantDial(t, ExitOK, "", "--temporal-address", addr, "--tls-ca", p.ca, "probe", "--api-key-file", file)
	_, auth := f.seen()
	if len(auth) != 2 || auth[0] != "Bearer "+key || auth[1] != "Bearer "+key {
		t.Errorf("the frontend saw authorization %q, want the key as a bearer token on both dials", auth)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	out += wantDial(t, ExitUsage, "--api-key-file: "+file+": permissions 0644 are too open", "--temporal-address", addr, "--tls-ca", p.ca, "--api-key-file", file, "probe")
	if strings.Contains(out, key) || strings.Contains(out, "Zm9vYmFy") {
		t.Errorf("the API key was printed: %q", out)
	}

	// Without a key, no authorization is sent.
	before := len(auth)
	wantDial(t, ExitOK, "", "--temporal-address", addr, "--tls-ca", p.ca, "probe")
	if _, auth := f.seen(); len(auth) != before {
		t.Errorf("authorization sent without a key: %q", auth[before:])
	}
}

func TestConnectionSettingsRefusedBeforeDialing(t *testing.T) {
	p := newTestPKI(t)
	file := func(name, text string, mode os.FileMode) string {
		path := filepath.Join(p.dir, name)
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	keyOnly, _ := os.ReadFile(p.clientKey)
	notPEM := file("not-pem.txt", "hello\n", 0o600)
	keyAsCA := file("key-as-ca.pem", string(keyOnly), 0o600)
	badCert := file("bad-cert.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0o600)
	spaced := file("spaced-key", "two words\n", 0o600)
	empty := file("empty-key", "\n", 0o600)
	missing := filepath.Join(p.dir, "missing.pem")

	ca := newTestCA(t, "other CA")
	expired, expiredKey := newTestCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "old"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}, ca)
	expiredCert, expiredKeyFile := filepath.Join(p.dir, "expired.pem"), filepath.Join(p.dir, "expired-key.pem")
	writePEM(t, expiredCert, expired, nil)
	writePEM(t, expiredKeyFile, nil, expiredKey)

	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--tls-key", p.clientKey}, "--tls-cert and --tls-key go together (the mTLS client certificate and its key): got only --tls-key"},
		{nil, []string{"--tls-cert", p.clientCert}, "got only --tls-cert"},
		{map[string]string{"TEMPORAL_TLS_CLIENT_KEY_PATH": p.clientKey}, nil, "got only --tls-key"},
		{nil, []string{"--tls-ca", missing}, "--tls-ca " + missing + ": open " + missing + ": no such file or directory"},
		{nil, []string{"--tls-ca", notPEM}, "--tls-ca " + notPEM + ": no PEM CERTIFICATE block in it"},
		{nil, []string{"--tls-ca", keyAsCA}, "--tls-ca " + keyAsCA + ": no PEM CERTIFICATE block in it"},
		{nil, []string{"--tls-ca", badCert}, "--tls-ca " + badCert + ": certificate 1: x509:"},
		{nil, []string{"--tls-cert", missing, "--tls-key", p.clientKey}, "--tls-cert: open " + missing},
		{nil, []string{"--tls-cert", p.clientCert, "--tls-key", missing}, "--tls-key: open " + missing},
		{nil, []string{"--tls-cert", p.clientCert, "--tls-key", p.serverKey}, "--tls-cert " + p.clientCert + " and --tls-key " + p.serverKey + ": tls: private key does not match public key"},
		{nil, []string{"--tls-cert", p.clientCert, "--tls-key", notPEM}, "--tls-key " + notPEM + ": tls: failed to find any PEM data in key input"},
		{nil, []string{"--tls-cert", p.serverCert, "--tls-key", p.serverKey}, "--tls-cert " + p.serverCert + ": the certificate is not for client authentication"},
		{nil, []string{"--tls-cert", expiredCert, "--tls-key", expiredKeyFile}, "--tls-cert " + expiredCert + ": the certificate expired at"},
		{nil, []string{"--tls=false", "--tls-ca", p.ca}, "TLS is turned off (--tls=false or TEMPORAL_TLS=false) but --tls-ca needs it"},
		{map[string]string{"TEMPORAL_TLS": "false"}, []string{"--tls-server-name", "x"}, "but --tls-server-name needs it"},
		{map[string]string{"TEMPORAL_TLS": "maybe"}, nil, `TEMPORAL_TLS: want true or false, got "maybe"`},
		{map[string]string{envAPIKey: ""}, nil, "TEMPORAL_API_KEY: the API key is empty"},
		{map[string]string{envAPIKey: "a b"}, nil, "TEMPORAL_API_KEY: the API key must be one word of printable ASCII"},
		{nil, []string{"--api-key-file", empty}, "--api-key-file " + empty + ": the API key is empty"},
		{nil, []string{"--api-key-file", spaced}, "--api-key-file " + spaced + ": the API key must be one word"},
		{nil, []string{"--api-key-file", missing}, "--api-key-file: open " + missing},
		{map[string]string{"HOIST_API_KEY_FILE": missing}, nil, "--api-key-file: open " + missing},
		{nil, []string{"probe", "--tls-ca="}, "--tls-ca: must not be empty"},
	} {
		clearConnectionEnv(t)
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		args := append([]string{"--temporal-address", "127.0.0.1:1"}, c.args...)
		if len(c.args) == 0 || c.args[0] != "probe" {
			args = append(args, "probe")
		}
		code, out := runDial(t, args...)
		if code != ExitUsage || !strings.Contains(out, c.want) || strings.Contains(out, "cannot reach") {
			t.Errorf("env %v, hoist %s: exit %d, %q; want exit %d and %q, before dialing", c.env, strings.Join(args, " "), code, out, ExitUsage, c.want)
		}
	}
}

// --tls takes no value: flagsFirst must not take the command for one, and
// a --tls given before the command reaches it, false included.
func TestTLSIsABoolGlobalFlag(t *testing.T) {
	clearConnectionEnv(t)
	app := NewApp(Streams{})
	for _, c := range []struct{ in, want string }{
		{"hoist --tls schedule create nightly -c h.yml", "hoist --tls schedule create -c h.yml nightly"},
		{"hoist --tls --tls-ca ca.pem logs web -c h.yml", "hoist --tls --tls-ca ca.pem logs -c h.yml web"},
		{"hoist --tls=false logs web -c h.yml", "hoist --tls=false logs -c h.yml web"},
	} {
		if got := strings.Join(flagsFirst(app, strings.Fields(c.in)), " "); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.in, got, c.want)
		}
	}
	var got *connection
	app = NewApp(Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	probe := &ucli.Command{Name: "probe", Action: func(c *ucli.Context) (err error) {
		got, err = readConnection(c)
		return err
	}}
	acceptGlobalFlags(probe)
	app.Commands = append(app.Commands, probe)
	for _, c := range []struct {
		args          []string
		tls, disabled bool
	}{
		{[]string{"probe"}, false, false},
		{[]string{"--tls", "probe"}, true, false},
		{[]string{"probe", "--tls"}, true, false},
		{[]string{"--tls=false", "probe"}, false, true},
		{[]string{"--tls=false", "probe", "--tls"}, true, false},
	} {
		got = nil
		if err := app.Run(append([]string{"hoist"}, c.args...)); err != nil || got == nil || (got.tls != nil) != c.tls || got.explicitlyDisabled != c.disabled {
			t.Errorf("hoist %v: %+v (%v), want TLS %v, turned off %v", c.args, got, err, c.tls, c.disabled)
		}
	}
	t.Setenv(envTLS, "true")
	if err := app.Run([]string{"hoist", "probe"}); err != nil || got.tls == nil {
		t.Errorf("TEMPORAL_TLS=true: %+v (%v), want TLS", got, err)
	}
}

// scripts/testbed/tls-certs.sh makes what the cluster's frontend and its
// clients need: checked here with Go's verifier, and by dialing a frontend
// that serves the script's certificate and wants the script's client one.
func TestTLSCertsScript(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("no openssl")
	}
	clearConnectionEnv(t)
	script, err := filepath.Abs("../scripts/testbed/tls-certs.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "tls")
	run := func() map[string]string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(script, dir)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v\n%s", script, dir, err, stderr.String())
		}
		if all := stdout.String() + stderr.String(); strings.Contains(all, "PRIVATE KEY") || strings.Contains(all, "BEGIN") {
			t.Errorf("the script printed PEM data:\n%s", all)
		}
		files := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
			name, path, ok := strings.Cut(line, "=")
			if !ok || !strings.HasPrefix(name, "HOIST_TLS_") || filepath.Dir(path) != dir {
				t.Fatalf("stdout line %q: want HOIST_TLS_NAME=%s/FILE", line, dir)
			}
			files[name] = path
		}
		return files
	}
	f := run()
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: %v, %v; want a directory of mode 700", dir, fi.Mode(), err)
	}
	for _, name := range []string{"HOIST_TLS_SERVER_KEY", "HOIST_TLS_CLIENT_KEY", "HOIST_TLS_WRONG_CLIENT_KEY"} {
		if fi, err := os.Stat(f[name]); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s %s: %v; want mode 600", name, f[name], err)
		}
	}
	pool := func(name string) *x509.CertPool {
		b, err := os.ReadFile(f[name])
		if err != nil {
			t.Fatal(err)
		}
		p := x509.NewCertPool()
		if !p.AppendCertsFromPEM(b) {
			t.Fatalf("%s %s: no certificate", name, f[name])
		}
		return p
	}
	cert := func(name string) *x509.Certificate {
		b, err := os.ReadFile(f[name])
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		if block == nil {
			t.Fatalf("%s %s: no PEM", name, f[name])
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	server, client, wrongClient := cert("HOIST_TLS_SERVER_CERT"), cert("HOIST_TLS_CLIENT_CERT"), cert("HOIST_TLS_WRONG_CLIENT_CERT")
	ca, wrongCA := pool("HOIST_TLS_CA"), pool("HOIST_TLS_WRONG_CA")
	for _, name := range []string{"localhost", "temporal-cluster", "127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		if _, err := server.Verify(x509.VerifyOptions{Roots: ca, DNSName: name}); err != nil {
			t.Errorf("the server certificate against ca.pem for %s: %v", name, err)
		}
	}
	if _, err := server.Verify(x509.VerifyOptions{Roots: ca, DNSName: "example.com"}); err == nil {
		t.Error("the server certificate verifies for example.com")
	}
	if _, err := server.Verify(x509.VerifyOptions{Roots: wrongCA, DNSName: "localhost"}); err == nil {
		t.Error("the server certificate verifies against wrong-ca.pem")
	}
	clientAuth := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if _, err := client.Verify(x509.VerifyOptions{Roots: ca, KeyUsages: clientAuth}); err != nil {
		t.Errorf("the client certificate against ca.pem: %v", err)
	}
	if _, err := wrongClient.Verify(x509.VerifyOptions{Roots: ca, KeyUsages: clientAuth}); err == nil {
		t.Error("the wrong client certificate verifies against ca.pem")
	}

	// A frontend on the script's certificates.
	pair, err := tls.LoadX509KeyPair(f["HOIST_TLS_SERVER_CERT"], f["HOIST_TLS_SERVER_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := startFrontend(t, &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: ca, ClientAuth: tls.RequireAndVerifyClientCert})
	_, port, _ := net.SplitHostPort(addr)
	mtls := []string{"--tls-cert", f["HOIST_TLS_CLIENT_CERT"], "--tls-key", f["HOIST_TLS_CLIENT_KEY"]}
	wantDial(t, ExitOK, "", append(append([]string{"--temporal-address", addr, "--tls-ca", f["HOIST_TLS_CA"]}, mtls...), "probe")...)
	wantDial(t, ExitOK, "", append(append([]string{"--temporal-address", "localhost:" + port, "--tls-ca", f["HOIST_TLS_CA"]}, mtls...), "probe")...)
	wantDial(t, ExitUsage, "is not signed by --tls-ca "+f["HOIST_TLS_WRONG_CA"], append(append([]string{"--temporal-address", addr, "--tls-ca", f["HOIST_TLS_WRONG_CA"]}, mtls...), "probe")...)
	wantDial(t, ExitUsage, "refused the client certificate", "--temporal-address", addr, "--tls-ca", f["HOIST_TLS_CA"],
		"--tls-cert", f["HOIST_TLS_WRONG_CLIENT_CERT"], "--tls-key", f["HOIST_TLS_WRONG_CLIENT_KEY"], "probe")

	// Idempotent: a second run keeps every file; a missing certificate is
	// made again, signed by the CA that was kept.
	before := map[string][]byte{}
	for name, path := range f {
		before[name], _ = os.ReadFile(path)
	}
	run()
	for name, path := range f {
		if b, _ := os.ReadFile(path); !bytes.Equal(b, before[name]) {
			t.Errorf("a second run changed %s", path)
		}
	}
	if err := os.Remove(f["HOIST_TLS_CLIENT_CERT"]); err != nil {
		t.Fatal(err)
	}
	run()
	if b, _ := os.ReadFile(f["HOIST_TLS_CA"]); !bytes.Equal(b, before["HOIST_TLS_CA"]) {
		t.Error("making the client certificate again changed the CA")
	}
	if b, _ := os.ReadFile(f["HOIST_TLS_CLIENT_CERT"]); bytes.Equal(b, before["HOIST_TLS_CLIENT_CERT"]) {
		t.Error("the removed client certificate was not made again")
	}
	if _, err := cert("HOIST_TLS_CLIENT_CERT").Verify(x509.VerifyOptions{Roots: ca, KeyUsages: clientAuth}); err != nil {
		t.Errorf("the client certificate made again against ca.pem: %v", err)
	}
}

// The worker dials Temporal itself (not through dial): a TLS failure must
// read the same there, exit 2 naming the cause, not a bare gRPC error.
func TestWorkerSaysWhyTLSFailed(t *testing.T) {
	clearConnectionEnv(t)
	p := newTestPKI(t)
	addr, _ := startFrontend(t, p.serverTLS(t, true))
	code, _, errOut := run(t, "--temporal-address", addr, "--tls-ca", p.wrongCA, "worker", "--known-hosts", os.DevNull)
	if code != ExitUsage || !strings.Contains(errOut, "is not signed by --tls-ca "+p.wrongCA) {
		t.Errorf("worker with a CA that did not sign the frontend: exit %d\n%s", code, errOut)
	}
	code, _, errOut = run(t, "--temporal-address", addr, "--tls-ca", p.ca, "worker", "--known-hosts", os.DevNull)
	if code != ExitUsage || !strings.Contains(errOut, "requires a client certificate") {
		t.Errorf("worker without the client certificate the frontend requires: exit %d\n%s", code, errOut)
	}
}
