package commands

import (
	"reflect"
	"testing"
)

// rel builds a release: g good, f failed, anything else unknown; at is
// when hoist last made it current ("" never).
func rel(v, mark, at string) Release {
	return Release{Version: v, Good: mark == "g", Failed: mark == "f", ActivatedAt: at}
}

func TestParseStateOrdersByActivationNotName(t *testing.T) {
	// A timestamp version made current after v1 is newer, whatever the
	// names say; v0 was never made current and comes last.
	out := "d\t1700000000.0\t\tv1\x00f\t1700000100.5\t\tv1/.hoist-current-at\x00f\t1700000101.0\t\tv1/.hoist-good\x00" +
		"d\t1700000200.0\t\t20261201194044\x00f\t1700000300.25\t\t20261201194044/.hoist-current-at\x00" +
		"f\t1700000301.0\t\t20261201194044/.hoist-failed\x00" +
		"d\t1700000400.0\t\tv0\x00l\t1700000400.0\tv1\tcurrent\x00f\t1\t\tname\twith tab\x00"
	got := ParseState(out)
	want := State{Current: "v1", Releases: []Release{
		rel("20261201194044", "f", "1700000300.25"), rel("v1", "g", "1700000100.5"), rel("v0", "", ""),
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if got.Releases[0].Health() != "failed" || got.Releases[1].Health() != "good" || got.Releases[2].Health() != "unknown" {
		t.Fatalf("health: %v %v %v", got.Releases[0].Health(), got.Releases[1].Health(), got.Releases[2].Health())
	}
}

func TestRollbackTargetIsKnownGood(t *testing.T) {
	cases := []struct {
		name    string
		st      State
		version string
		want    string
	}{
		{"current good", State{Current: "v2", Releases: []Release{rel("v2", "g", "2"), rel("v1", "g", "1")}}, "v3", "v2"},
		{"current unknown: never checked, not a target", State{Current: "v2", Releases: []Release{rel("v2", "", "2"), rel("v1", "g", "1")}}, "v3", "v1"},
		{"current failed", State{Current: "v2", Releases: []Release{rel("v2", "f", "2"), rel("v1", "g", "1")}}, "v3", "v1"},
		{"redeploy of current", State{Current: "v2", Releases: []Release{rel("v2", "g", "2"), rel("v1", "g", "1")}}, "v2", "v1"},
		{"none good", State{Current: "v2", Releases: []Release{rel("v2", "f", "2"), rel("v1", "", "1")}}, "v3", ""},
		{"first deploy", State{}, "v1", ""},
	}
	for _, tc := range cases {
		if got := tc.st.RollbackTarget(tc.version); got != tc.want {
			t.Errorf("%s: RollbackTarget(%s) = %q, want %q", tc.name, tc.version, got, tc.want)
		}
	}
}

func TestPreviousGood(t *testing.T) {
	// After a rollback to v1, the release current before it (v3) is the
	// previous one, by activation, whatever the names.
	st := State{Current: "v1", Releases: []Release{rel("v1", "g", "9"), rel("v3", "g", "8"), rel("v2", "f", "7"), rel("v0", "g", "1")}}
	if got := st.PreviousGood(); got != "v3" {
		t.Fatalf("PreviousGood = %q, want v3", got)
	}
	st = State{Current: "v3", Releases: []Release{rel("v3", "g", "9"), rel("v2", "f", "7"), rel("v1", "", "5")}}
	if got := st.PreviousGood(); got != "" {
		t.Fatalf("no good release but current: PreviousGood = %q, want none", got)
	}
}

func TestPrunableCountsGoodReleases(t *testing.T) {
	// keep 2: v5 (current) and v2 are the two newest good releases; v4
	// failed and v3 unknown are newer than v2, kept for inspection (v4's
	// logs); v1 good but third, v0 failed and older: removed.
	st := State{Current: "v5", Releases: []Release{
		rel("v5", "g", "9"), rel("v4", "f", "8"), rel("v3", "", ""), rel("v2", "g", "6"), rel("v1", "g", "5"), rel("v0", "f", "4"),
	}}
	if got, want := st.Prunable(2), []string{"v1", "v0"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Prunable(2) = %v, want %v", got, want)
	}
	// Failed releases never push a good rollback target out: three new
	// failures on top of current keep v2 and v1 with keep 3.
	st = State{Current: "v2", Releases: []Release{
		rel("v5", "f", ""), rel("v4", "f", ""), rel("v3", "f", ""), rel("v2", "g", "6"), rel("v1", "g", "5"), rel("v0", "g", "4"), rel("v-1", "g", "3"),
	}}
	if got, want := st.Prunable(3), []string{"v-1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Prunable(3) = %v, want %v", got, want)
	}
	// Protected and current are never removed.
	st = State{Current: "v0", Releases: []Release{rel("v2", "g", "9"), rel("v1", "g", "8"), rel("v0", "g", "7")}}
	if got := st.Prunable(1, "v1"); len(got) != 0 {
		t.Fatalf("Prunable removed %v; current and protected must stay", got)
	}
}
