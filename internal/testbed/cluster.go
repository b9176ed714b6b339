package testbed

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const clusterUpHint = "start it with `make cluster-up` (scripts/testbed/cluster.sh up, as root, after the test bed)"

// Cluster is the production-shaped Temporal cluster of
// scripts/testbed/cluster.sh: PostgreSQL and two temporal-server processes
// behind one name, plus the Web UI. Its coordinates are in
// $HOIST_TB_DIR/cluster/env.
type Cluster struct {
	Address string   // HOIST_TB_CLUSTER: the name:port clients dial, on both servers
	Servers []string // HOIST_TB_CLUSTER_SERVERS: each server process's own frontend
	UI      string   // HOIST_TB_CLUSTER_UI: the Web UI's base URL
	UIBin   string   // HOIST_TB_CLUSTER_UI_BIN: the ui-server binary, for a UI of a test's own
	// Chromium is HOIST_TB_CHROMIUM: Debian's chromium, for the browser test.
	Chromium string
	Version  string // HOIST_TB_CLUSTER_VERSION: the Temporal server version
	Script   string // HOIST_TB_CLUSTER_SCRIPT: cluster.sh, for the faults
	Dir      string // the test bed dir
	// The frontends serve TLS and require a client certificate.
	TLSCA, TLSCert, TLSKey string // HOIST_TB_CLUSTER_TLS_CA, _CERT, _KEY: the CA and a client's certificate and key
	WrongCA                string // HOIST_TB_CLUSTER_TLS_WRONG_CA: a CA that signed nothing of the cluster's
	Raw                    map[string]string
}

// ReadCluster parses dir/cluster/env without probing anything.
func ReadCluster(dir string) (Cluster, error) {
	path := filepath.Join(dir, "cluster", "env")
	f, err := os.Open(path)
	if err != nil {
		return Cluster{}, fmt.Errorf("cluster env file missing (%v); %s", err, clusterUpHint)
	}
	defer f.Close()
	raw := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok && !strings.HasPrefix(k, "#") {
			raw[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return Cluster{}, fmt.Errorf("reading %s: %v", path, err)
	}
	c := Cluster{Address: raw["HOIST_TB_CLUSTER"], UI: raw["HOIST_TB_CLUSTER_UI"], Version: raw["HOIST_TB_CLUSTER_VERSION"],
		Script: raw["HOIST_TB_CLUSTER_SCRIPT"], Dir: dir, Raw: raw,
		TLSCA: raw["HOIST_TB_CLUSTER_TLS_CA"], TLSCert: raw["HOIST_TB_CLUSTER_TLS_CERT"], TLSKey: raw["HOIST_TB_CLUSTER_TLS_KEY"],
		WrongCA: raw["HOIST_TB_CLUSTER_TLS_WRONG_CA"], UIBin: raw["HOIST_TB_CLUSTER_UI_BIN"], Chromium: raw["HOIST_TB_CHROMIUM"]}
	if s := raw["HOIST_TB_CLUSTER_SERVERS"]; s != "" {
		c.Servers = strings.Split(s, ",")
	}
	if c.Address == "" || len(c.Servers) != 2 || c.Script == "" || c.TLSCA == "" || c.TLSCert == "" || c.TLSKey == "" || c.WrongCA == "" {
		return Cluster{}, fmt.Errorf("%s: want HOIST_TB_CLUSTER, two HOIST_TB_CLUSTER_SERVERS, HOIST_TB_CLUSTER_SCRIPT and the HOIST_TB_CLUSTER_TLS_* files (stale file?); %s", path, clusterUpHint)
	}
	return c, nil
}

// Check says which part of the cluster does not answer: each server's
// frontend, the shared name, the UI.
func (c Cluster) Check() error {
	for i, s := range c.Servers {
		if err := dial("tcp", s, 2*time.Second); err != nil {
			return fmt.Errorf("cluster server %d (%s) does not answer: %v; %s", i+1, s, err, clusterUpHint)
		}
	}
	if err := dial("tcp", c.Address, 2*time.Second); err != nil {
		return fmt.Errorf("cluster address %s does not answer (is it in /etc/hosts?): %v; %s", c.Address, err, clusterUpHint)
	}
	return nil
}

// ClientTLS is the TLS configuration of a client of the cluster: its CA
// and the client certificate the frontends require.
func (c Cluster) ClientTLS() (*tls.Config, error) {
	pem, err := os.ReadFile(c.TLSCA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no certificate", c.TLSCA)
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Run runs cluster.sh with args; t.Fatalf on failure.
func (c Cluster) Run(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command(c.Script, args...)
	cmd.Env = append(os.Environ(), "HOIST_TB_DIR="+c.Dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cluster.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// ServerKill sends SIGKILL to server process n (1 or 2).
func (c Cluster) ServerKill(t testing.TB, n int) {
	t.Helper()
	c.Run(t, "server-kill", strconv.Itoa(n))
}

// ServerStart starts server process n and waits until its frontend serves.
func (c Cluster) ServerStart(t testing.TB, n int) {
	t.Helper()
	c.Run(t, "server-start", strconv.Itoa(n))
}

// PGRestart restarts PostgreSQL (fast shutdown: open connections are cut).
func (c Cluster) PGRestart(t testing.TB) { t.Helper(); c.Run(t, "pg-restart") }
