package commands

import (
	"reflect"
	"testing"

	"github.com/hoist-dev/hoist/remote"
)

// The day-2 builders are proven here, on every hostile base and version,
// by the same parse-back and checkSafe as the builders of safety_test.go
// (TestDay2BuildersSafe). They are named in its covered list so that
// TestEveryBuilderCovered counts them; its buildAll could take them over.
func init() { covered = append(covered, "Compose.Logs", "Compose.Exec", "Compose.ServiceNames") }

func TestDay2Builders(t *testing.T) {
	c := Compose{Layout: Layout{Base: "/srv/my apps/web"}, Project: "web", Version: "v2"}
	pre := `cd '/srv/my apps/web/v2' && docker --config '/srv/my apps/web/.docker' compose --project-name web `
	for _, tc := range []struct {
		name string
		got  remote.Command
		want string
	}{
		{"logs", c.Logs(LogsOptions{Tail: 100}), pre + `logs --no-color --tail 100`},
		{"logs of services", c.Logs(LogsOptions{Tail: 5, Services: []string{"api", "worker.v2"}}), pre + `logs --no-color --tail 5 api worker.v2`},
		{"logs followed", c.Logs(LogsOptions{Tail: 10, Follow: true, Timestamps: true, Services: []string{"api"}}), pre + `logs --no-color --tail 10 --timestamps --follow api`},
		{"services", c.ServiceNames(), pre + `config --services`},
		{"exec", c.Exec("api", []string{"rake", "db:migrate"}), pre + `exec -T api rake db:migrate`},
		{"exec quoted", c.Exec("api", []string{"sh", "-c", `echo "$HOME" 'x'; exit 3`}), pre + `exec -T api sh -c 'echo "$HOME" '\''x'\''; exit 3'`},
		{"exec dashes", c.Exec("api", []string{"--help", "-T", ""}), pre + `exec -T api --help -T ''`},
	} {
		if s := tc.got.String(); s != tc.want {
			t.Errorf("%s:\n got  %s\n want %s", tc.name, s, tc.want)
		}
	}
}

func TestDay2BuildersRefuse(t *testing.T) {
	c := Compose{Layout: Layout{Base: "/srv/app"}, Project: "web", Version: "v1"}
	for name, f := range map[string]func(){
		"tail 0":              func() { c.Logs(LogsOptions{Tail: 0}) },
		"tail negative":       func() { c.Logs(LogsOptions{Tail: -5}) },
		"service option":      func() { c.Logs(LogsOptions{Tail: 1, Services: []string{"--volumes"}}) },
		"service empty":       func() { c.Logs(LogsOptions{Tail: 1, Services: []string{""}}) },
		"service with space":  func() { c.Logs(LogsOptions{Tail: 1, Services: []string{"a b"}}) },
		"exec service option": func() { c.Exec("-d", []string{"ls"}) },
		"exec no command":     func() { c.Exec("api", nil) },
		"exec empty command":  func() { c.Exec("api", []string{""}) },
		"logs bad version": func() {
			Compose{Layout: Layout{Base: "/srv/app"}, Project: "web", Version: "../x"}.Logs(LogsOptions{Tail: 1})
		},
		"exec bad base": func() { Compose{Layout: Layout{Base: "/"}, Project: "web", Version: "v1"}.Exec("api", []string{"ls"}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: accepted", name)
				}
			}()
			f()
		}()
	}
}

func TestParseServiceNames(t *testing.T) {
	if got := ParseServiceNames("web\nworker\n\n"); !reflect.DeepEqual(got, []string{"web", "worker"}) {
		t.Errorf("got %q", got)
	}
	if got := ParseServiceNames(""); len(got) != 0 {
		t.Errorf("empty: %q", got)
	}
}

// hostileWords are command words a user may hand hoist exec: each must
// reach the container as exactly that one word. (No \x01 or \x02:
// parseBack's own separators.)
var hostileWords = []string{"", " ", "a b", "$(reboot)", "`id`", "'", `"`, `\`, "a;b", "&&", "|", ">x", "<x", "*", "~", "#c",
	"A=b", "-rf", "--", "\t", "\x03", "é €", "line1\nline2", "\xff"}

// TestDay2BuildersSafe: on every hostile base and version, Logs and Exec
// refuse exactly when the base or version is invalid; otherwise each
// shell splits the command into the argv meant, with the hostile exec
// words intact, and checkSafe finds nothing outside remote_base.
func TestDay2BuildersSafe(t *testing.T) {
	type acc struct {
		base, version, name string
		cmd                 remote.Command
	}
	var ok []acc
	for _, b := range hostileBases {
		for _, v := range hostileVersions {
			c := Compose{Layout: Layout{Base: b.base}, Project: "web", Version: v.version}
			for name, f := range map[string]func() remote.Command{
				"Compose.Logs": func() remote.Command {
					return c.Logs(LogsOptions{Tail: 3, Follow: true, Services: []string{"web"}})
				},
				"Compose.Exec":         func() remote.Command { return c.Exec("web", append([]string{"sh"}, hostileWords...)) },
				"Compose.ServiceNames": c.ServiceNames,
			} {
				var cmd remote.Command
				var refused any
				func() {
					defer func() { refused = recover() }()
					cmd = f()
				}()
				if want := !b.ok || !v.ok; (refused != nil) != want {
					t.Errorf("base %q version %q: %s refused=%v, want %v", b.base, v.version, name, refused, want)
				}
				if refused == nil {
					if err := cmd.Validate(); err != nil {
						t.Fatalf("base %q version %q: %s: %v", b.base, v.version, name, err)
					}
					ok = append(ok, acc{b.base, v.version, name, cmd})
				}
			}
		}
	}
	cmds := make([]remote.Command, len(ok))
	for i, a := range ok {
		cmds[i] = a.cmd
	}
	for _, sh := range shells {
		got := parseBack(t, sh, cmds)
		for i, a := range ok {
			if want := wantSteps(a.cmd); !reflect.DeepEqual(got[i], want) {
				t.Fatalf("base %q version %q: %s: %s split\n  %s\ninto %q\nwant %q", a.base, a.version, a.name, sh, a.cmd, got[i], want)
			}
			if err := checkSafe(a.base, got[i]); err != nil {
				t.Fatalf("base %q version %q: %s: %v", a.base, a.version, a.name, err)
			}
		}
	}
	if len(ok) == 0 {
		t.Fatal("no pair was accepted: the proof checked nothing")
	}
}
