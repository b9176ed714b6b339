package config

import (
	"reflect"
	"testing"

	"github.com/hoist-dev/hoist/window"
)

// base is 5 lines long: a block appended starts on line 6.
func init() {
	malformed = append(malformed,
		badCase{"windows a list", base + "windows: [Mon]\n", "windows: must be a mapping", 6},
		badCase{"windows unknown key", base + "windows: {allowed: []}\n", `unknown key "allowed" (did you mean "allow"?)`, 6},
		badCase{"windows bad zone", base + "windows: {timezone: Mars/Olympus}\n", `windows.timezone: "Mars/Olympus": is not a known time zone`, 6},
		badCase{"windows bad allow", base + "windows:\n  allow:\n    - Mon-Thu 10:00-16:00\n    - Mon 10:00-26:00\n", `windows.allow[1]: "Mon 10:00-26:00":`, 9},
		badCase{"windows bad freeze", base + "windows: {freeze: [2026-12-20]}\n", `windows.freeze[0]: "2026-12-20":`, 6},
		badCase{"windows outside", base + "windows: {outside: skip}\n", `windows.outside: "skip":`, 6},
		badCase{"notify a mapping", base + "notify: {to: ops}\n", "notify: must be a list", 6},
		badCase{"notify no to", base + "notify: [{on: [failed]}]\n", "notify[0].to: names the worker's notifier", 6},
		badCase{"notify bad name", base + "notify:\n  - {to: Ops Slack, on: [failed]}\n", `notify[0].to: "Ops Slack" is not a notifier name`, 7},
		badCase{"notify unknown event", base + "notify:\n  - {to: ops, on: [failed, exploded]}\n", `notify[0].on:`, 7},
		badCase{"notify no events", base + "notify:\n  - {to: ops}\n", `notify[0].on:`, 7},
		badCase{"hooks unknown position", base + "hooks: {before_down: []}\n", `unknown key "before_down"`, 6},
		badCase{"hook without service", base + "hooks:\n  before_up:\n    - {once: true}\n", "hooks.before_up[0].service: names the compose service", 8},
		badCase{"hook bad service", base + "hooks:\n  after_up: [{service: 'a b'}]\n", "hooks.after_up[0].service:", 7},
		badCase{"hook once on failure", base + "hooks:\n  on_failure: [{service: page, once: true}]\n", "hooks.on_failure[0].once:", 7},
		badCase{"hook required not a bool", base + "hooks:\n  on_failure: [{service: page, required: no-thanks}]\n", "hooks.on_failure[0].required:", 7},
	)
}

func TestParseAround(t *testing.T) {
	dir := fixture(t)
	yml := base + `windows:
  timezone: Asia/Shanghai
  allow: ["Mon-Thu 10:00-16:00"]
  freeze: ["2026-12-20/2027-01-04"]
  outside: refuse
notify: [{to: ops-slack, on: [started, awaiting_approval, failed, rolled_back, succeeded]}]
hooks:
  before_up:  [{ service: backup }, { service: migrate, once: true }]
  after_up:   [{ service: migrate-verify }]
  on_failure: [{ service: notify-oncall, required: false }]
`
	s, err := Parse([]byte(yml), "hoist.yml", dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := (&window.Spec{Timezone: "Asia/Shanghai", Allow: []string{"Mon-Thu 10:00-16:00"}, Freeze: []string{"2026-12-20/2027-01-04"}, Outside: "refuse"}); !reflect.DeepEqual(s.Windows, want) {
		t.Errorf("windows %+v", s.Windows)
	}
	if want := []NotifyRule{{To: "ops-slack", On: []string{"started", "awaiting_approval", "failed", "rolled_back", "succeeded"}}}; !reflect.DeepEqual(s.Notify, want) {
		t.Errorf("notify %+v", s.Notify)
	}
	want := &Hooks{
		BeforeUp:  []Hook{{Service: "backup"}, {Service: "migrate", Once: true}},
		AfterUp:   []Hook{{Service: "migrate-verify"}},
		OnFailure: []Hook{{Service: "notify-oncall", Optional: true}},
	}
	if !reflect.DeepEqual(s.Hooks, want) {
		t.Errorf("hooks %+v", s.Hooks)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("a parsed spec fails Validate: %v", err)
	}
}
