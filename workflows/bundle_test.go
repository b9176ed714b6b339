package workflows

import (
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/config"
)

// heldRef names a bundle held by a ReleaseBundle run.
func heldRef(b []byte) *activities.BundleRef {
	r := activities.RefOf(b, BundleWorkflowID("x"), "run-of-the-holder")
	return &r
}

// A deploy handed a reference syncs every host by it: neither the deploy's
// history nor any host's sync carries the bytes, and the reference is the
// holder's, not the deploy's own workflow.
func TestDeployByReferenceSyncsByIt(t *testing.T) {
	for name, s := range map[string]config.Spec{
		"host by host": spec("h1", "h2"),
		"rollout":      rolloutSpec(config.Rollout{Preflight: true}, "h1", "h2"),
	} {
		t.Run(name, func(t *testing.T) {
			f := onV1("h1", "h2")
			in := deployV2(s)
			ref := heldRef(in.Bundle)
			in.Bundle, in.BundleRef = nil, ref
			r := deployWith(t, f, in)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if len(f.syncs) != 2 {
				t.Fatalf("syncs: %+v", f.syncs)
			}
			for _, sy := range f.syncs {
				if len(sy.Bundle) != 0 || sy.Ref != *ref {
					t.Errorf("sync input %+v, want only the reference %+v", sy, *ref)
				}
			}
			if got := currents(f, "h1", "h2"); got != "h1=v2 h2=v2" {
				t.Errorf("hosts: %s", got)
			}
		})
	}
}

func TestDeployInputBundleOrReference(t *testing.T) {
	b := []byte("bundle")
	bad := *heldRef(b)
	bad.Digest = "not-a-digest"
	for _, c := range []struct {
		name string
		in   DeployInput
		want string // "" = valid
	}{
		{"bundle", DeployInput{Bundle: b}, ""},
		{"reference", DeployInput{BundleRef: heldRef(b)}, ""},
		{"neither", DeployInput{}, "bundle: a deploy needs the release files"},
		{"both", DeployInput{Bundle: b, BundleRef: heldRef(b)}, "bundle_ref: a deploy carries its files or names them, not both"},
		{"bad reference", DeployInput{BundleRef: &bad}, "bundle_ref: want the sha256 digest"},
		{"rollback with a reference", DeployInput{Kind: KindRollback, BundleRef: heldRef(b)}, "bundle: a rollback ships no files"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			in.Spec, in.Version = spec("h1"), "v2"
			if in.Kind == "" {
				in.Kind = KindDeploy
			}
			err := in.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
