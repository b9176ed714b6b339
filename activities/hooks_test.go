package activities

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
)

// A failed hook's last lines go into the history: values the release's
// env files set are cut out of them, by key name, as a crash's are.
func TestHookFailureRedactsEnvValues(t *testing.T) {
	f := newFake(t)
	c := target.Compose("v2")
	f.on(target.Layout().Locked(c.RunHook("migrate")), reply{code: 1, out: "connecting to postgres://app:hunter2-Sup3r@db/app\nmigration 42 failed\n"})
	f.on(c.ReadEnvFiles([]string{".env"}), reply{out: "DB_URL=postgres://app:hunter2-Sup3r@db/app\n"})
	_, err := (&Activities{SSH: f}).RunHook(context.Background(), HookInput{Target: target, Version: "v2", Service: "migrate", Position: "before_up", EnvFiles: []string{".env"}})
	var app *temporal.ApplicationError
	if err == nil || !errors.As(err, &app) || !app.NonRetryable() {
		t.Fatalf("a hook that ran and failed must fail for good: %v", err)
	}
	if msg := err.Error(); strings.Contains(msg, "hunter2") || !strings.Contains(msg, "[DB_URL redacted]") || !strings.Contains(msg, "migration 42 failed") {
		t.Fatalf("message %q: env values must be redacted by name, the hook's words kept", msg)
	}
}
