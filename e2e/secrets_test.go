//go:build integration

package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const portSecrets = 18112

// With payload encryption on (one key file for the CLI and the worker), a
// deploy's secrets reach the host and the app, yet appear nowhere in
// Temporal's raw history, the worker's log or the host's process list: the
// release's .env, a crash log line that prints a secret, and the registry
// password. The search attributes stay plain, so deploys can still be
// found by service and version.
func TestSecretsNeverInHistory(t *testing.T) {
	t.Parallel()
	const host = 1
	keyFile := filepath.Join(t.TempDir(), "codec-keys")
	key := runHoist(t, t.TempDir(), suite.queue, "codec-key", "--id", "e2e")
	key.want(t, 0)
	if err := os.WriteFile(keyFile, []byte(key.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	// This worker reads the registry password from the test bed's file.
	creds := registryCredentials(t, t.TempDir(), fmt.Sprintf("%q: {username: %s, password_file: %s}\n",
		suite.env.AuthRegistry, suite.env.AuthUser, suite.env.AuthPasswordFile))
	queue, workerLog := startTestWorker(t, "secrets", []string{
		"HOIST_REGISTRY_CREDENTIALS=" + creds, "HOIST_CODEC_KEY_FILE=" + keyFile,
	})
	s := newService(t, "secrets", portSecrets, host)
	s.queue = queue
	s.extra = registrySpec(suite.env.AuthRegistry)
	requireLoggedOut(t, host)

	appSecret := fmt.Sprintf("app-secret-%016x", rand.Uint64())
	crashSecret := fmt.Sprintf("crash-secret-%016x", rand.Uint64())
	env := filepath.Join(s.dir, "files", ".env")
	a := app{image: suite.env.AuthImage("v1"), envFile: ".env"}
	deploy := func(version string) result {
		s.compose(version, a)
		return s.hoist("--codec-key-file", keyFile, "deploy", "--config", s.hoistYML(), "--version", version)
	}

	ps := samplePS(t, host)
	if err := os.WriteFile(env, []byte("APP_SECRET="+appSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deploy("v1").want(t, 0, s.deployedLine("v1"))
	// The .env travelled in the bundle and reached the app.
	url := fmt.Sprintf("http://%s:%d/env/APP_SECRET", suite.env.Host(host), s.port)
	if got, err := getEventually(url, appSecret); err != nil || got != appSecret {
		t.Fatalf("GET %s: %q (%v): the release's .env did not reach the app", url, got, err)
	}

	// v2 crashes printing a secret: the app rejects CRASH_AFTER's value
	// and logs it. The cause, log line included, reaches the user, with
	// the .env's values redacted by name (issue 8 §8).
	if err := os.WriteFile(env, []byte("APP_SECRET="+appSecret+"\nCRASH_AFTER="+crashSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := deploy("v2")
	r.want(t, 1)
	line := r.line(t, "❌ Deployment of version v2 failed! Rolled back to v1.")
	wantContains(t, "the failure line", line, "[CRASH_AFTER redacted]")
	if strings.Contains(r.stdout+r.stderr, crashSecret) {
		t.Fatalf("the .env's value reached the output unredacted:\n%s", r)
	}
	samples := ps.stop()
	s.wantState("v1", suite.env.AuthImage("v1"), "v1", "v2 (failed)")

	secrets := map[string]string{"the registry password": suite.password, "the .env secret": appSecret, "the secret in the crash log": crashSecret}
	h := s.deployHistory()
	wantNoSecret(t, "the deploy's raw workflow history", h.raw, secrets)
	log, err := os.ReadFile(workerLog)
	if err != nil {
		t.Fatal(err)
	}
	wantNoSecret(t, "the worker's log", log, secrets)
	wantNoSecret(t, "the host's process list", samples, secrets)
	// The check above proves something only if the history holds the
	// bundle and the failure at all: encrypted, both are there.
	var raw struct {
		Events []struct {
			WorkflowExecutionStartedEventAttributes *struct {
				Input struct {
					Payloads []struct{ Metadata map[string][]byte }
				}
			}
			WorkflowExecutionFailedEventAttributes *struct{ Failure struct{ Message string } }
		}
	}
	if err := json.Unmarshal(h.raw, &raw); err != nil {
		t.Fatal(err)
	}
	var input, failure string
	for _, e := range raw.Events {
		if a := e.WorkflowExecutionStartedEventAttributes; a != nil && len(a.Input.Payloads) == 1 {
			input = string(a.Input.Payloads[0].Metadata["encoding"])
		}
		if a := e.WorkflowExecutionFailedEventAttributes; a != nil {
			failure = a.Failure.Message
		}
	}
	if input != "binary/encrypted" || failure != "Encoded failure" {
		t.Fatalf("history: input payload encoding %q, failure message %q; want binary/encrypted and Encoded failure", input, failure)
	}

	// Search attributes: plain, names only, and they find the deploy.
	out, err := temporal(t, "workflow", "list", "--query", fmt.Sprintf("HoistService = '%s' AND HoistVersion = 'v2'", s.name), "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "deploy/"+s.name) {
		t.Fatalf("no deploy of %s found by its search attributes:\n%s", s.name, out)
	}
	wantNoSecret(t, "the workflow list", out, secrets)
}
