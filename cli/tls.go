package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"
)

// The connection to the Temporal frontend: TLS, mTLS and an API key
// (Temporal Cloud). The environment variables are the temporal CLI's, so
// a shell set up for `temporal` reaches the same server with hoist.
const (
	flagTLS           = "tls"
	flagTLSCert       = "tls-cert"
	flagTLSKey        = "tls-key"
	flagTLSCA         = "tls-ca"
	flagTLSServerName = "tls-server-name"
	flagAPIKeyFile    = "api-key-file"

	// envTLS is read by hoist, not by the flag: a value that is not a
	// bool is then a usage error naming it.
	envTLS = "TEMPORAL_TLS"
	// envAPIKey holds the API key itself. It has no flag: a key on the
	// command line shows in the process list.
	envAPIKey = "TEMPORAL_API_KEY"

	maxAPIKeyFile = 64 << 10
)

// connectionFlags are built per app, like every global flag.
func connectionFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.BoolFlag{Name: flagTLS, Usage: "connect to the Temporal frontend with TLS, verifying it against the system's CAs (or --tls-ca); implied by every --tls-* option and by an API key; --tls=false refuses them; " + envTLS + "=true|false sets the default"},
		&ucli.StringFlag{Name: flagTLSCA, Usage: "PEM file of the CA certificates to verify the Temporal frontend against, instead of the system's", EnvVars: []string{"TEMPORAL_TLS_CA", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"}},
		&ucli.StringFlag{Name: flagTLSCert, Usage: "PEM client certificate for mTLS, with --tls-key", EnvVars: []string{"TEMPORAL_TLS_CERT", "TEMPORAL_TLS_CLIENT_CERT_PATH"}},
		&ucli.StringFlag{Name: flagTLSKey, Usage: "PEM private key of --tls-cert", EnvVars: []string{"TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CLIENT_KEY_PATH"}},
		&ucli.StringFlag{Name: flagTLSServerName, Usage: "name the Temporal frontend's certificate must be for, when it is not the host of --temporal-address", EnvVars: []string{"TEMPORAL_TLS_SERVER_NAME"}},
		&ucli.StringFlag{Name: flagAPIKeyFile, Usage: "file (mode 600) holding an API key for the Temporal frontend (Temporal Cloud), sent as a bearer token over TLS; " + envAPIKey + " may hold the key instead", EnvVars: []string{"HOIST_API_KEY_FILE"}},
	}
}

// connection is how a client reaches the frontend, as the flags say.
type connection struct {
	tls                *tls.Config // nil: plaintext
	caFile             string      // "" for the system's CAs
	certFile, keyFile  string      // the mTLS pair, or ""
	certIssuer         string      // of certFile
	serverName         string
	apiKey             string // never printed
	apiKeyFrom         string // where the key came from, for messages
	explicitlyDisabled bool   // --tls=false or TEMPORAL_TLS=false
}

// setConnection puts the connection settings of the flags into opts: the
// TLS config and the API key. Every error is a usage error naming the
// flag, the variable or the file.
func setConnection(c *ucli.Context, opts *client.Options) error {
	cn, err := readConnection(c)
	if err != nil {
		return err
	}
	opts.ConnectionOptions.TLS = cn.tls
	if cn.apiKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(cn.apiKey)
	}
	return nil
}

func readConnection(c *ucli.Context) (*connection, error) {
	cn := &connection{
		caFile:     c.String(flagTLSCA),
		certFile:   c.String(flagTLSCert),
		keyFile:    c.String(flagTLSKey),
		serverName: c.String(flagTLSServerName),
	}
	enabled, set, err := tlsSwitch(c)
	if err != nil {
		return nil, err
	}
	cn.explicitlyDisabled = set && !enabled
	if cn.apiKey, cn.apiKeyFrom, err = readAPIKey(c.String(flagAPIKeyFile)); err != nil {
		return nil, err
	}
	var implied []string
	for _, o := range []struct{ flag, v string }{{flagTLSCA, cn.caFile}, {flagTLSCert, cn.certFile}, {flagTLSKey, cn.keyFile}, {flagTLSServerName, cn.serverName}} {
		if o.v != "" {
			implied = append(implied, "--"+o.flag)
		}
	}
	if cn.apiKey != "" {
		implied = append(implied, "an API key ("+cn.apiKeyFrom+")")
	}
	if cn.explicitlyDisabled {
		if len(implied) > 0 {
			return nil, Usagef("TLS is turned off (--%s=false or %s=false) but %s needs it: drop one", flagTLS, envTLS, strings.Join(implied, ", "))
		}
		return cn, nil
	}
	if !enabled && len(implied) == 0 {
		return cn, nil
	}
	if (cn.certFile == "") != (cn.keyFile == "") {
		given := flagTLSCert
		if cn.certFile == "" {
			given = flagTLSKey
		}
		return nil, Usagef("--%s and --%s go together (the mTLS client certificate and its key): got only --%s", flagTLSCert, flagTLSKey, given)
	}
	cn.tls = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cn.serverName}
	if cn.caFile != "" {
		if cn.tls.RootCAs, err = loadCAs(cn.caFile); err != nil {
			return nil, Usagef("--%s %s: %v", flagTLSCA, cn.caFile, err)
		}
	}
	if cn.certFile != "" {
		pair, err := loadClientPair(cn.certFile, cn.keyFile)
		if err != nil {
			return nil, &UsageError{Err: err}
		}
		cn.tls.Certificates = []tls.Certificate{pair}
		cn.certIssuer = pair.Leaf.Issuer.String()
	}
	return cn, nil
}

// tlsSwitch reads --tls, else $TEMPORAL_TLS: whether TLS is asked for,
// and whether either says so at all (--tls=false is not "not given").
func tlsSwitch(c *ucli.Context) (enabled, set bool, err error) {
	if c.IsSet(flagTLS) {
		return c.Bool(flagTLS), true, nil
	}
	v, ok := os.LookupEnv(envTLS)
	if !ok || v == "" {
		return false, false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, false, Usagef("%s: want true or false, got %q", envTLS, v)
	}
	return b, true, nil
}

// readAPIKey reads the API key from file, else $TEMPORAL_API_KEY, and
// says where it came from. No message holds the key.
func readAPIKey(file string) (key, from string, err error) {
	text, inEnv := os.LookupEnv(envAPIKey)
	switch {
	case file != "" && inEnv:
		return "", "", Usagef("both --%s and %s are set: use one", flagAPIKeyFile, envAPIKey)
	case file != "":
		from = "--" + flagAPIKeyFile + " " + file
		if text, err = readSecretFile(file); err != nil {
			return "", "", Usagef("--%s: %v", flagAPIKeyFile, err)
		}
	case inEnv:
		from = envAPIKey
	default:
		return "", "", nil
	}
	key = strings.TrimSpace(text)
	if key == "" {
		// Set but empty is a missing CI secret more often than a wish to
		// go without.
		return "", "", Usagef("%s: the API key is empty", from)
	}
	for _, r := range key {
		if r <= ' ' || r > '~' {
			return "", "", Usagef("%s: the API key must be one word of printable ASCII", from)
		}
	}
	return key, from, nil
}

// readSecretFile reads a small file only its owner may read, as a key
// file must be.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return "", fmt.Errorf("%s: permissions %04o are too open: a key file must not be accessible by group or others (chmod 600 %s)", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxAPIKeyFile+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxAPIKeyFile {
		return "", fmt.Errorf("%s: larger than %d bytes; not an API key file", path, maxAPIKeyFile)
	}
	return string(b), nil
}

// loadCAs reads every certificate of a PEM file into a pool. A file
// without one, or with one that does not parse, is refused: the pool
// would trust nothing, and every connection would fail later, less
// clearly.
func loadCAs(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errors.New("no PEM CERTIFICATE block in it")
	}
	return pool, nil
}

// loadClientPair reads the mTLS certificate and key, and refuses a pair
// the frontend would reject anyway: an expired certificate, or one not
// meant for client authentication.
func loadClientPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--%s: %v", flagTLSCert, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--%s: %v", flagTLSKey, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--%s %s and --%s %s: %v", flagTLSCert, certFile, flagTLSKey, keyFile, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("--%s %s: %v", flagTLSCert, certFile, err)
		}
	}
	leaf := pair.Leaf
	now := time.Now()
	switch {
	case now.After(leaf.NotAfter):
		return tls.Certificate{}, fmt.Errorf("--%s %s: the certificate expired at %s", flagTLSCert, certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return tls.Certificate{}, fmt.Errorf("--%s %s: the certificate is valid only from %s", flagTLSCert, certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if len(leaf.ExtKeyUsage) > 0 {
		client := false
		for _, u := range leaf.ExtKeyUsage {
			client = client || u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny
		}
		if !client {
			return tls.Certificate{}, fmt.Errorf("--%s %s: the certificate is not for client authentication (its extended key usage has no clientAuth)", flagTLSCert, certFile)
		}
	}
	return pair, nil
}

// tlsProbeTimeout bounds the handshake tlsDialFailure makes of its own.
const tlsProbeTimeout = 3 * time.Second

// tlsDialFailure says why connecting to the frontend failed when TLS is
// why: the frontend's certificate is not signed by the CA it is checked
// against or is for another name, it wants a client certificate or
// refuses the one given, or one side speaks TLS and the other does not.
// The SDK's error holds only gRPC's text of it, so a handshake of its own,
// with the same config, finds out (within tlsProbeTimeout, which a
// frontend that drops packets adds to the SDK's wait). It returns nil
// when TLS is not the cause (the server is down, say): the caller's
// message stands.
func tlsDialFailure(c *ucli.Context, dialErr error) error {
	cn, err := readConnection(c)
	if err != nil || dialErr == nil {
		return nil
	}
	addr := c.String(flagTemporalAddress)
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.Context, tlsProbeTimeout)
	defer cancel()
	if cn.tls == nil {
		if speaksTLS(ctx, addr, host) {
			return Usagef("the Temporal frontend at %s requires TLS: pass --%s (and --%s FILE when its certificate is signed by a CA of your own, --%s and --%s when it asks for a client certificate)", addr, flagTLS, flagTLSCA, flagTLSCert, flagTLSKey)
		}
		return nil
	}
	cfg := cn.tls.Clone()
	cfg.NextProtos = []string{"h2"}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	return cn.explain(addr, cfg.ServerName, probeTLS(ctx, addr, cfg))
}

// probeTLS makes a TLS handshake with addr, then reads a moment: in TLS
// 1.3 a server that refuses the client's certificate says so after the
// client's side of the handshake is done.
func probeTLS(ctx context.Context, addr string, cfg *tls.Config) error {
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetReadDeadline(deadline)
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil {
		var ne net.Error
		if errors.Is(err, io.EOF) || errors.As(err, &ne) && ne.Timeout() {
			return nil // the TLS went through: something else failed
		}
		return err
	}
	return nil
}

// speaksTLS says whether addr completes a TLS handshake. It verifies
// nothing and sends nothing after the handshake: it only tells a plaintext
// client why a TLS frontend hangs up on it.
func speaksTLS(ctx context.Context, addr, host string) bool {
	d := tls.Dialer{Config: &tls.Config{ServerName: host, NextProtos: []string{"h2"}, InsecureSkipVerify: true}} //nolint:gosec // a diagnosis: no data is sent
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// explain turns the probe's error into what to do; nil when the probe
// went through or failed before TLS (no TCP connection).
func (cn *connection) explain(addr, name string, err error) error {
	if err == nil {
		return nil
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return nil
	}
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
	)
	trusted := "the system's CAs (pass --" + flagTLSCA + " FILE with the CA that signed it)"
	if cn.caFile != "" {
		trusted = "--" + flagTLSCA + " " + cn.caFile
	}
	switch {
	case errors.As(err, &unknown):
		what := "a certificate"
		if unknown.Cert != nil {
			what = fmt.Sprintf("a certificate issued by %q", unknown.Cert.Issuer.String())
		}
		return Usagef("the Temporal frontend at %s presents %s, which is not signed by %s: %v", addr, what, trusted, err)
	case errors.As(err, &hostname):
		return Usagef("the Temporal frontend's certificate at %s is not for %q (%v): set --%s to a name it is for", addr, name, err, flagTLSServerName)
	case errors.As(err, &invalid):
		return Usagef("the Temporal frontend's certificate at %s is not valid: %v", addr, err)
	case errors.As(err, &record):
		return Usagef("the server at %s does not answer TLS (%v): check --%s, or turn TLS off (--%s=false) if it is a plaintext server", addr, err, flagTemporalAddress, flagTLS)
	}
	if errors.As(err, &op) && op.Op == "remote error" {
		alert := op.Err.Error()
		switch {
		case cn.certFile == "" && (strings.Contains(alert, "certificate required") || strings.Contains(alert, "bad certificate") || strings.Contains(alert, "handshake failure")):
			return Usagef("the Temporal frontend at %s requires a client certificate (mTLS) and got none (%v): pass --%s and --%s", addr, err, flagTLSCert, flagTLSKey)
		case cn.certFile != "":
			// Go's client sends no certificate at all when the frontend
			// names the CAs it trusts and this one's issuer is not among
			// them: either way the issuer is what to look at.
			return Usagef("the Temporal frontend at %s refused the client certificate --%s %s, issued by %q (%v): it wants one signed by a CA it trusts for clients", addr, flagTLSCert, cn.certFile, cn.certIssuer, err)
		}
	}
	return Usagef("the TLS handshake with the Temporal frontend at %s failed: %v", addr, err)
}
