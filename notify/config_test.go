package notify

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeFiles creates each name (relative to dir) holding its content.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestParse(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"slack-url":       "https://hooks.slack.example/services/T0/B0/SLACKTOKEN\n",
		"dingtalk-secret": "SECdingsecret\r\n",
	})
	yml := `
notifiers:
  ops-slack:    { type: slack,    url_file: slack-url }
  ops-dingtalk: { type: dingtalk, url_env: DING_URL, secret_file: ` + filepath.Join(dir, "dingtalk-secret") + ` }
  ci:           { type: webhook,  url: "https://ci.example/hooks/hoist", hmac_secret_env: CI_HMAC }
  ci_plain:     { type: webhook,  url: "http://127.0.0.1:8080/h" }
`
	s, err := Parse([]byte(yml), "notify.yml", dir, envOf(map[string]string{
		"DING_URL": "https://oapi.dingtalk.example/robot/send?access_token=DINGTOKEN",
		"CI_HMAC":  "cihmac\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Names(), " "); got != "ci ci_plain ops-dingtalk ops-slack" {
		t.Fatalf("names %q", got)
	}
	want := map[string]notifier{
		"ops-slack": {name: "ops-slack", typ: "slack", url: NewSecret("https://hooks.slack.example/services/T0/B0/SLACKTOKEN"),
			urlFrom: "url_file " + filepath.Join(dir, "slack-url")},
		"ops-dingtalk": {name: "ops-dingtalk", typ: "dingtalk", url: NewSecret("https://oapi.dingtalk.example/robot/send?access_token=DINGTOKEN"),
			urlFrom: "url_env DING_URL", secret: NewSecret("SECdingsecret"), secretFrom: "secret_file " + filepath.Join(dir, "dingtalk-secret")},
		"ci": {name: "ci", typ: "webhook", url: NewSecret("https://ci.example/hooks/hoist"), urlFrom: "the config file (url)",
			secret: NewSecret("cihmac"), secretFrom: "hmac_secret_env CI_HMAC"},
		"ci_plain": {name: "ci_plain", typ: "webhook", url: NewSecret("http://127.0.0.1:8080/h"), urlFrom: "the config file (url)"},
	}
	for name, w := range want {
		g := s.lookup(name)
		if g == nil || g.name != w.name || g.typ != w.typ || g.url.Reveal() != w.url.Reveal() || g.urlFrom != w.urlFrom ||
			g.secret.Reveal() != w.secret.Reveal() || g.secretFrom != w.secretFrom {
			t.Errorf("%s: got %#v\nwant %#v", name, g, w)
		}
	}
	if !s.Has("ci") || s.Has("nope") || s.File() != "notify.yml" {
		t.Fatal("Has/File")
	}
	wantStr := "notifiers from notify.yml: ci (webhook, URL from the config file (url), signed with the secret from hmac_secret_env CI_HMAC), " +
		"ci_plain (webhook, URL from the config file (url)), " +
		"ops-dingtalk (dingtalk, URL from url_env DING_URL, signed with the secret from secret_file " + filepath.Join(dir, "dingtalk-secret") + "), " +
		"ops-slack (slack, URL from url_file " + filepath.Join(dir, "slack-url") + ")"
	if s.String() != wantStr {
		t.Fatalf("String:\n%s\nwant\n%s", s, wantStr)
	}
}

func TestLoadRelativeToTheFile(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"url":        "https://hooks.slack.example/services/X\n",
		"notify.yml": "notifiers:\n  s: {type: slack, url_file: url}\n",
	})
	s, err := Load(filepath.Join(dir, "notify.yml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.lookup("s").url.Reveal(); got != "https://hooks.slack.example/services/X" {
		t.Fatalf("url %q", got)
	}
	if _, err := Load(filepath.Join(dir, "missing.yml"), nil); err == nil || !strings.Contains(err.Error(), "missing.yml: no such file") {
		t.Fatalf("missing config: %v", err)
	}
}

func TestParseRefuses(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"empty":   "\n",
		"ftp-url": "ftp://files.example/FILETOKEN\n",
		"url":     "https://hooks.slack.example/services/T/B/GOODTOKEN\n",
	})
	env := envOf(map[string]string{"ENVTOKEN_URL": "https://no host/ENVTOKEN", "U": "https://x.example/h"})
	cases := []struct {
		yml, want string
		line      int // 0: the message has no line
	}{
		{"", "notify.yml: is empty", 0},
		{"notifiers: {a: [}\n", "notify.yml: invalid YAML: did not find expected node content", 0},
		{"notifiers:\n  a: [\n", "notify.yml:2: invalid YAML: did not find expected node content", 2},
		{"- a\n", "must be a mapping with one key, notifiers", 1},
		{"hooks: {}\n", `unknown key "hooks" (the file holds one key, notifiers)`, 1},
		{"x: 1\n", `unknown key "x"`, 1},
		{"notifiers: {a: {type: slack, url_env: U}}\nhooks: 1\n", `unknown key "hooks"`, 2},
		{"notifiers:\n", "notifiers is empty", 1},
		{"notifiers:\n  a: {type: slack, url_env: U}\nnotifiers: {}\n", "notifiers is set twice", 3},
		{"notifiers: {}\n", "notifiers is empty", 1},
		{"notifiers: [a]\n", "notifiers must be a mapping of name", 1},
		{"notifiers:\n  Ops: {type: slack, url_env: U}\n", `notifier name "Ops" must be lower-case`, 2},
		{"notifiers:\n  -ops: {type: slack, url_env: U}\n", `notifier name "-ops"`, 2},
		{"notifiers:\n  a: {type: slack, url_env: U}\n  a: {type: slack, url_env: U}\n", "notifier a is defined twice (first on line 2)", 3},
		{"notifiers:\n  a: slack\n", "notifier a: must be a mapping", 2},
		{"notifiers:\n  a: &x {type: slack, url_env: U}\n  b: *x\n", "notifier b: YAML aliases", 3},
		{"notifiers:\n  a: {type: slack, url_env: U, channel: x}\n", `notifier a: unknown key "channel"`, 2},
		{"notifiers:\n  a:\n    type: slack\n    type: slack\n    url_env: U\n", "notifier a: type is set twice", 4},
		{"notifiers:\n  a: {url_env: U}\n", "notifier a: type is required", 2},
		{"notifiers:\n  a: {type: [slack], url_env: U}\n", "notifier a: type must be a non-empty string", 2},
		{"notifiers:\n  a: {type: teams, url_env: U}\n", `notifier a: type "teams" is not one of slack, dingtalk, webhook`, 2},
		{"notifiers:\n  a: {type: slack}\n", "notifier a: needs one of url, url_file, url_env", 2},
		{"notifiers:\n  a:\n    type: slack\n    url: https://x.example/h\n    url_env: U\n", "notifier a: takes one of url and url_env, not both", 5},
		{"notifiers:\n  a: {type: slack, url: 123}\n", "notifier a: url must be a non-empty string", 2},
		{"notifiers:\n  a: {type: slack, url: ''}\n", "notifier a: url must be a non-empty string", 2},
		{"notifiers:\n  a: {type: slack, url_env: NOPE}\n", "notifier a: url_env: the worker's environment variable NOPE is not set or empty", 2},
		{"notifiers:\n  a: {type: slack, url_env: A-B}\n", `notifier a: url_env "A-B" is not an environment variable name`, 2},
		{"notifiers:\n  a: {type: slack, url_file: missing}\n", "notifier a: url_file " + filepath.Join(dir, "missing") + ": no such file or directory", 2},
		{"notifiers:\n  a: {type: slack, url_file: " + dir + "}\n", "notifier a: url_file " + dir + ": is a directory", 2},
		{"notifiers:\n  a: {type: slack, url_file: empty}\n", "notifier a: url_file " + filepath.Join(dir, "empty") + " is empty; it must hold the url", 2},
		{"notifiers:\n  a: {type: slack, url_file: ftp-url}\n", "notifier a: the URL from url_file " + filepath.Join(dir, "ftp-url") + " must start with https:// or http://", 2},
		{"notifiers:\n  a: {type: webhook, url: 'https:///hooks/SECRETPATH'}\n", "notifier a: the URL from the config file (url) has no host", 2},
		{"notifiers:\n  a: {type: webhook, url_env: ENVTOKEN_URL}\n", "notifier a: the URL from url_env ENVTOKEN_URL is not a valid URL", 2},
		{"notifiers:\n  a: {type: slack, url_file: url, secret_file: url}\n", "notifier a: a slack notifier takes no secret_file: its URL is its secret", 2},
		{"notifiers:\n  a: {type: dingtalk, url_env: U, hmac_secret_env: U}\n", "notifier a: hmac_secret_env is for webhook notifiers; a dingtalk one takes secret_file or secret_env", 2},
		{"notifiers:\n  a: {type: webhook, url_env: U, secret_env: U}\n", "notifier a: secret_env is for dingtalk notifiers; a webhook one takes hmac_secret_file or hmac_secret_env", 2},
		{"notifiers:\n  a: {type: dingtalk, url_env: U, secret_file: url, secret_env: U}\n", "notifier a: takes one of secret_file and secret_env, not both", 2},
		{"notifiers:\n  a: {type: dingtalk, url_env: U, secret_file: nosecret}\n", "notifier a: secret_file " + filepath.Join(dir, "nosecret") + ": no such file", 2},
		{"notifiers:\n  a: {type: webhook, url_env: U, hmac_secret_env: NOPE}\n", "notifier a: hmac_secret_env: the worker's environment variable NOPE is not set", 2},
		{"notifiers:\n  a: {type: webhook, url_env: U, hmac_secret_file: empty}\n", "notifier a: hmac_secret_file " + filepath.Join(dir, "empty") + " is empty; it must hold the hmac_secret", 2},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.yml), "notify.yml", dir, env)
		if err == nil {
			t.Errorf("%q: no error, want %q", c.yml, c.want)
			continue
		}
		msg := err.Error()
		prefix := "notify.yml:"
		if c.line > 0 {
			prefix = "notify.yml:" + strconv.Itoa(c.line) + ": "
		}
		if !strings.Contains(msg, c.want) || !strings.HasPrefix(msg, prefix) || strings.Count(msg, "\n") != 0 {
			t.Errorf("%q:\n got %q\nwant one error %q at %q", c.yml, msg, c.want, prefix)
		}
		for _, secret := range []string{"FILETOKEN", "GOODTOKEN", "ENVTOKEN/", "SECRETPATH", "x.example"} {
			if strings.Contains(msg, secret) {
				t.Errorf("%q: error shows %s: %s", c.yml, secret, msg)
			}
		}
	}
}

// All problems of a file come back at once, each at its line.
func TestParseReportsEveryProblem(t *testing.T) {
	yml := "notifiers:\n  a: {type: slack}\n  b: {type: x, url_env: U}\n  c: {type: slack, url_env: U}\n"
	_, err := Parse([]byte(yml), "notify.yml", "/", envOf(map[string]string{"U": "https://x.example/h"}))
	want := "notify.yml:2: notifier a: needs one of url, url_file, url_env\n" +
		`notify.yml:3: notifier b: type "x" is not one of slack, dingtalk, webhook`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestCheckNames(t *testing.T) {
	s, err := Parse([]byte("notifiers:\n  b: {type: slack, url_env: U}\n  a: {type: slack, url_env: U}\n"), "/etc/hoist/notify.yml", "/",
		envOf(map[string]string{"U": "https://x.example/h"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckNames([]string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	want := `notify: no notifier "x" on this worker (it has: a, b); add it to /etc/hoist/notify.yml (--notify-config)` + "\n" +
		`notify: no notifier "y" on this worker (it has: a, b); add it to /etc/hoist/notify.yml (--notify-config)`
	if err := s.CheckNames([]string{"a", "x", "y"}); err == nil || err.Error() != want {
		t.Fatalf("got %v", err)
	}
	var none *Set
	want = `notify: no notifier "a" on this worker (it has none); start the worker with --notify-config FILE defining it`
	if err := none.CheckNames([]string{"a"}); err == nil || err.Error() != want {
		t.Fatalf("nil set: %v", err)
	}
	if none.Names() != nil || none.Has("a") || none.String() != "no notifiers" {
		t.Fatal("nil set holds something")
	}
}
