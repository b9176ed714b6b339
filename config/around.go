package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/hoist-dev/hoist/notify"
	"github.com/hoist-dev/hoist/window"
)

// What goes around a release: when it may start (windows), who hears of
// it (notify) and the one-off services run with it (hooks).

// NotifyRule is one entry of hoist.yml's notify list: a notifier the
// worker has (named only: its URL and secret live on the worker) and the
// events it hears of.
type NotifyRule struct {
	To string   `json:"to"`
	On []string `json:"on"`
}

// Hook is a one-off compose service of the release, run with
// `docker compose run --rm --no-deps`.
type Hook struct {
	Service string `json:"service"`
	// Once: on the first host of the first batch only (a migration).
	Once bool `json:"once,omitempty"`
	// Optional: a failure warns instead of failing the host (hoist.yml's
	// required: false; the zero value is required).
	Optional bool `json:"optional,omitempty"`
}

// Hooks are hoist.yml's hooks block.
type Hooks struct {
	BeforeUp  []Hook `json:"before_up,omitempty"`  // after the pull, before up
	AfterUp   []Hook `json:"after_up,omitempty"`   // after the running check, before the release counts as good
	OnFailure []Hook `json:"on_failure,omitempty"` // on a host whose deploy failed, after it was put back
}

// Positions of hooks, as hoist.yml names them.
const (
	HookBeforeUp  = "before_up"
	HookAfterUp   = "after_up"
	HookOnFailure = "on_failure"
)

// At lists the hooks at position pos.
func (h *Hooks) At(pos string) []Hook {
	if h == nil {
		return nil
	}
	return map[string][]Hook{HookBeforeUp: h.BeforeUp, HookAfterUp: h.AfterUp, HookOnFailure: h.OnFailure}[pos]
}

const (
	maxHooks       = 10 // per position
	maxNotifyRules = 20
)

var (
	windowKeys = []string{"timezone", "allow", "freeze", "outside"}
	hookKeys   = []string{"service", "once", "required"}
	notifyKeys = []string{"to", "on"}
	hooksKeys  = []string{HookBeforeUp, HookAfterUp, HookOnFailure}
	// notifierRe is the notify package's rule for notifier names.
	notifierRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

func (d *decoder) windows(n *yaml.Node) *window.Spec {
	w := &window.Spec{}
	d.fields(n, "windows", windowKeys, func(k string, v *yaml.Node) {
		f := child("windows", k)
		switch k {
		case "timezone":
			w.Timezone, _ = d.str(v, f)
		case "allow":
			w.Allow = d.strings(v, f)
		case "freeze":
			w.Freeze = d.strings(v, f)
		case "outside":
			w.Outside, _ = d.str(v, f)
		}
	})
	return w
}

func (d *decoder) notify(n *yaml.Node) []NotifyRule {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, "notify", "must be a list like [{to: ops-slack, on: [failed, rolled_back]}], got %s", describe(n))
		return nil
	}
	var rules []NotifyRule
	for i, item := range n.Content {
		f := fmt.Sprintf("notify[%d]", i)
		d.lines[f] = item.Line
		var r NotifyRule
		d.fields(item, f, notifyKeys, func(k string, v *yaml.Node) {
			switch k {
			case "to":
				r.To, _ = d.str(v, child(f, k))
			case "on":
				r.On = d.strings(v, child(f, k))
			}
		})
		rules = append(rules, r)
	}
	return rules
}

func (d *decoder) hooks(n *yaml.Node) *Hooks {
	h := &Hooks{}
	d.fields(n, "hooks", hooksKeys, func(k string, v *yaml.Node) {
		list := d.hookList(v, child("hooks", k))
		switch k {
		case HookBeforeUp:
			h.BeforeUp = list
		case HookAfterUp:
			h.AfterUp = list
		case HookOnFailure:
			h.OnFailure = list
		}
	})
	return h
}

func (d *decoder) hookList(n *yaml.Node, field string) []Hook {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, field, "must be a list like [{service: migrate}], got %s", describe(n))
		return nil
	}
	var hs []Hook
	for i, item := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		d.lines[f] = item.Line
		var h Hook
		d.fields(item, f, hookKeys, func(k string, v *yaml.Node) {
			switch k {
			case "service":
				h.Service, _ = d.str(v, child(f, k))
			case "once":
				h.Once, _ = d.boolean(v, child(f, k))
			case "required":
				req, _ := d.boolean(v, child(f, k))
				h.Optional = !req
			}
		})
		hs = append(hs, h)
	}
	return hs
}

// strings decodes a list of strings.
func (d *decoder) strings(n *yaml.Node, field string) []string {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, field, "must be a list of strings, got %s", describe(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		d.lines[f] = item.Line
		if item.Kind == yaml.ScalarNode && item.ShortTag() == "!!timestamp" {
			out = append(out, item.Value) // a bare date: the window rules explain what is wanted
			continue
		}
		if v, ok := d.str(item, f); ok {
			out = append(out, v)
		}
	}
	return out
}

// aroundProblems checks windows, notify and hooks.
func (s *Spec) aroundProblems(p *problemList) {
	if s.Windows != nil {
		if _, err := window.Parse(*s.Windows); err != nil {
			for _, e := range unjoin(err) {
				var we *window.Error
				if errors.As(e, &we) {
					p.add(we.Field, strconv.Quote(we.Entry)+": "+we.Msg)
				} else {
					p.add("windows", e.Error())
				}
			}
		}
	}
	if len(s.Notify) > maxNotifyRules {
		p.add("notify", fmt.Sprintf("lists %d rules, at most %d", len(s.Notify), maxNotifyRules))
	}
	for i, r := range s.Notify {
		f := fmt.Sprintf("notify[%d]", i)
		switch {
		case r.To == "":
			p.add(f+".to", "names the worker's notifier to send to (hoist worker --notify-config), and is required")
		case !notifierRe.MatchString(r.To) || len(r.To) > 64:
			p.add(f+".to", fmt.Sprintf("%q is not a notifier name ([a-z0-9][a-z0-9_-]*, at most 64)", r.To))
		}
		if _, err := notify.ParseEvents(r.On); err != nil {
			p.add(f+".on", err.Error())
		}
	}
	if s.Hooks == nil {
		return
	}
	for _, pos := range hooksKeys {
		hs := s.Hooks.At(pos)
		if len(hs) > maxHooks {
			p.add("hooks."+pos, fmt.Sprintf("lists %d hooks, at most %d", len(hs), maxHooks))
		}
		for i, h := range hs {
			f := fmt.Sprintf("hooks.%s[%d]", pos, i)
			if h.Service == "" {
				p.add(f+".service", "names the compose service to run, and is required")
			} else {
				p.add(f+".service", checkServiceName(h.Service))
			}
			if h.Once && pos == HookOnFailure {
				p.add(f+".once", "runs a hook on the first host only; an on_failure hook runs where a host failed")
			}
		}
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
