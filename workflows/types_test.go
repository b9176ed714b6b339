package workflows

import (
	"testing"

	"github.com/hoist-dev/hoist/config"
)

// The deploy lock is per service and environment: staging and production
// of one service never share it, and production keeps the ID deploys had
// before environments.
func TestDeployWorkflowID(t *testing.T) {
	for _, c := range []struct{ service, env, want string }{
		{"web", "", "deploy/web"},
		{"web", "production", "deploy/web"},
		{"web", "staging", "deploy/web/staging"},
		{"web-staging", "production", "deploy/web-staging"},
	} {
		if got := DeployWorkflowID(c.service, c.env); got != c.want {
			t.Errorf("DeployWorkflowID(%q, %q) = %q, want %q", c.service, c.env, got, c.want)
		}
	}
	if DeployWorkflowID("web", "staging") == DeployWorkflowID("web", "production") {
		t.Fatal("staging and production share a lock")
	}
}

func TestSearchAttributesNameTheEnvironment(t *testing.T) {
	in := DeployInput{Spec: config.Spec{Service: "web", Environment: "staging"}, Version: "v1"}
	sa := SearchAttributes(in)
	if v, ok := sa.GetKeyword(EnvironmentAttribute); !ok || v != "staging" {
		t.Fatalf("HoistEnvironment = %q (%v), want staging", v, ok)
	}
	in.Spec.Environment = ""
	if v, _ := SearchAttributes(in).GetKeyword(EnvironmentAttribute); v != "production" {
		t.Fatalf("HoistEnvironment of a spec without one = %q, want production", v)
	}
}
