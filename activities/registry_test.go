package activities

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/registrycreds"
)

const codecKeys = "codec-key-material"

// workerEnv is the worker's environment: it holds a secret that is no
// registry's password.
func workerEnv(k string) string {
	return map[string]string{"HOIST_CODEC_KEYS": codecKeys, "REG_PW": "s3cret-pw"}[k]
}

func creds(t *testing.T, yml string) *registrycreds.Store {
	t.Helper()
	s, err := registrycreds.Parse([]byte(yml), "creds.yml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// noSecretSent fails the test when a command carried the codec keys.
func noSecretSent(t *testing.T, f *fakeRunner) {
	t.Helper()
	for _, c := range f.ran {
		if strings.Contains(string(c.Stdin), codecKeys) || strings.Contains(c.String(), codecKeys) {
			t.Fatalf("the worker sent HOIST_CODEC_KEYS: %s", c.String())
		}
	}
}

// The attack of issue 8 §2: a spec names a worker environment variable that
// holds a secret and a server of its choosing. The worker must not send that
// secret anywhere: the spec names a server, never a credential.
func TestRegistryLoginIgnoresSpecChosenSecret(t *testing.T) {
	f := newFake(t) // any command run fails the test: nothing may reach a host
	acts := &Activities{SSH: f, Getenv: workerEnv}
	in := LoginInput{Target: target, Registry: config.Registry{Type: "basic", Server: "evil.example:5000", Username: "x", PasswordEnv: "HOIST_CODEC_KEYS"}}
	_, err := acts.RegistryLogin(context.Background(), in)
	noSecretSent(t, f)
	if got := appErrType(err); got != ErrRegistry+" (non-retryable)" || !strings.Contains(err.Error(), "holds no credential for registry evil.example:5000") {
		t.Fatalf("want a non-retryable error naming the server, got %s: %v", got, err)
	}

	// A worker with a credential for another server sends nothing to
	// evil.example either; and to its own server it sends its own
	// password, whatever the spec's password_env says.
	acts.Registries = creds(t, "reg:5000: {username: ci, password_env: REG_PW}\n")
	if _, err := acts.RegistryLogin(context.Background(), in); appErrType(err) != ErrRegistry+" (non-retryable)" {
		t.Fatalf("evil server with a worker holding another: %v", err)
	}
	noSecretSent(t, f)
	in.Registry.Server = "reg:5000"
	f.on(target.Layout().Locked(commands.RegistryLogin("/srv/web/.docker", "reg:5000", "ci", []byte("s3cret-pw"))), reply{})
	if _, err := acts.RegistryLogin(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	noSecretSent(t, f)
	if len(f.ran) != 1 || string(f.ran[0].Stdin) != "s3cret-pw" {
		t.Fatalf("ran %v", f.ran)
	}
}

func TestRegistryPasswordOnlyOnStdin(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("file-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFake(t)
	f.on(target.Layout().Locked(commands.RegistryLogin("/srv/web/.docker", "reg:5000", "ci", []byte("s3cret-pw"))), reply{})
	f.on(target.Layout().Locked(commands.RegistryLogin("/srv/web/.docker", "Other.Example:5001", "bot", []byte("file-pw"))), reply{})
	acts := &Activities{SSH: f, Getenv: workerEnv, Registries: creds(t,
		"reg:5000: {username: ci, password_env: REG_PW}\nother.example:5001: {username: bot, password_file: "+pwFile+"}\n")}
	for _, server := range []string{"reg:5000", "Other.Example:5001"} { // host names match case-insensitively
		res, err := acts.RegistryLogin(context.Background(), LoginInput{Target: target, Registry: config.Registry{Type: config.RegistryLogin, Server: server}})
		if err != nil || res.Server != server {
			t.Fatalf("login to %s: %+v %v", server, res, err)
		}
	}
	for _, ran := range f.ran {
		if len(ran.Stdin) == 0 || strings.Contains(ran.String(), "pw") {
			t.Fatalf("password not on stdin only: argv %q", ran.String())
		}
		if !strings.Contains(ran.String(), "docker --config /srv/web/.docker login") {
			t.Fatalf("login not kept in the service's docker config: %s", ran.String())
		}
	}
	if err := os.WriteFile(pwFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := acts.RegistryLogin(context.Background(), LoginInput{Target: target, Registry: config.Registry{Type: config.RegistryLogin, Server: "other.example:5001"}})
	if got := appErrType(err); got != ErrRegistry+" (non-retryable)" || !strings.Contains(err.Error(), pwFile) || !strings.Contains(err.Error(), "host h1, step registry login") {
		t.Fatalf("empty password file: %s %v", got, err)
	}
}

// CheckRegistry runs on the worker only: the fake runner fails the test on
// any command.
func TestCheckRegistry(t *testing.T) {
	f := newFake(t)
	acts := &Activities{SSH: f, Getenv: workerEnv, Registries: creds(t,
		"reg:5000: {username: ci, password_env: REG_PW}\nunset.example: {username: ci, password_env: NOT_SET}\n"+
			"123.dkr.ecr.us-west-2.amazonaws.com: {ecr: {region: us-west-2}}\n")}
	ctx := context.Background()
	if err := acts.CheckRegistry(ctx, RegistryCheckInput{Server: "reg:5000"}); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"evil.example:5000":                   "this worker holds no credential for registry evil.example:5000",
		"reg":                                 "holds no credential for registry reg ", // the port is part of the server
		"unset.example":                       "NOT_SET, which is not set",
		"123.dkr.ecr.us-west-2.amazonaws.com": "this worker has no ECR client",
	}
	for server, want := range cases {
		err := acts.CheckRegistry(ctx, RegistryCheckInput{Server: server})
		if got := appErrType(err); got != ErrRegistry+" (non-retryable)" || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want non-retryable %q, got %s: %v", server, want, got, err)
		}
	}
	for _, server := range []string{"", "https://reg:5000", "$(id)"} {
		if got := appErrType(acts.CheckRegistry(ctx, RegistryCheckInput{Server: server})); got != ErrInvalid+" (non-retryable)" {
			t.Errorf("%q: got %s", server, got)
		}
	}
	acts.Registries = nil
	err := acts.CheckRegistry(ctx, RegistryCheckInput{Server: "reg:5000"})
	if !strings.Contains(fmt.Sprint(err), "started without --registry-credentials") {
		t.Errorf("no credentials file: %v", err)
	}
	if len(f.ran) != 0 {
		t.Fatalf("CheckRegistry ran commands: %v", f.ran)
	}
}

type fakeECR struct{ user, pass, server string }

func (e fakeECR) Login(context.Context, string) (string, string, string, error) {
	return e.user, e.pass, e.server, nil
}

func TestRegistryLoginECR(t *testing.T) {
	const server = "123.dkr.ecr.us-west-2.amazonaws.com"
	f := newFake(t)
	f.on(target.Layout().Locked(commands.RegistryLogin("/srv/web/.docker", server, "AWS", []byte("tok"))), reply{})
	acts := &Activities{SSH: f, ECR: fakeECR{"AWS", "tok", server}, Registries: creds(t,
		server+": {ecr: {region: us-west-2}}\nevil.example:5000: {ecr: {region: us-west-2}}\n")}
	in := LoginInput{Target: target, Registry: config.Registry{Type: config.RegistryLogin, Server: server}}
	if _, err := acts.RegistryLogin(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	// The token is for the registry GetAuthorizationToken named; a server
	// that is not its ProxyEndpoint never gets it.
	in.Registry.Server = "evil.example:5000"
	_, err := acts.RegistryLogin(context.Background(), in)
	if got := appErrType(err); got != ErrRegistry+" (non-retryable)" || !strings.Contains(err.Error(), server) || !strings.Contains(err.Error(), "evil.example:5000") || !strings.Contains(err.Error(), "ProxyEndpoint") {
		t.Fatalf("mismatch: %s %v", got, err)
	}
	if len(f.ran) != 1 {
		t.Fatalf("the token went to the wrong server: %v", f.ran)
	}
	// CheckRegistry finds the mismatch before any host is touched.
	err = acts.CheckRegistry(context.Background(), RegistryCheckInput{Server: "evil.example:5000"})
	if got := appErrType(err); got != ErrRegistry+" (non-retryable)" || !strings.Contains(err.Error(), "registry check: ") || !strings.Contains(err.Error(), server) {
		t.Fatalf("check of a mismatch: %s %v", got, err)
	}
	if err := acts.CheckRegistry(context.Background(), RegistryCheckInput{Server: server}); err != nil {
		t.Fatal(err)
	}
	if len(f.ran) != 1 {
		t.Fatalf("CheckRegistry ran commands: %v", f.ran)
	}
}
