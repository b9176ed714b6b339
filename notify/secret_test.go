package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// tokens are the secret parts of redactionSet; none may ever be printed.
var tokens = []string{"SLACKTOKEN", "DINGTOKEN", "DINGSECRET", "HOOKTOKEN", "HMACSECRET"}

func redactionSet(t *testing.T) *Set {
	t.Helper()
	yml := `notifiers:
  s: {type: slack, url_env: S}
  d: {type: dingtalk, url_env: D, secret_env: DS}
  w: {type: webhook, url: "https://ci.example/hooks/HOOKTOKEN", hmac_secret_env: WS}
`
	s, err := Parse([]byte(yml), "notify.yml", "/", envOf(map[string]string{
		"S":  "https://hooks.slack.example/services/T0/B0/SLACKTOKEN",
		"D":  "https://oapi.dingtalk.example/robot/send?access_token=DINGTOKEN",
		"DS": "SECDINGSECRET",
		"WS": "HMACSECRET",
	}))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func noTokens(t *testing.T, what, got string) {
	t.Helper()
	for _, tok := range tokens {
		if strings.Contains(got, tok) {
			t.Errorf("%s shows %s: %s", what, tok, got)
		}
	}
}

func TestNothingPrintsASecret(t *testing.T) {
	s := redactionSet(t)
	n := s.lookup("d")
	values := map[string]any{
		"*Set":           s,
		"Set":            *s, // no String method on the value: fmt walks the fields
		"*notifier":      n,
		"notifier":       *n,
		"Secret":         n.url,
		"[]Secret":       []Secret{n.url, n.secret},
		"struct{Secret}": struct{ X, y Secret }{n.url, n.secret},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
			noTokens(t, name+" "+verb, fmt.Sprintf(verb, v))
		}
		j, _ := json.Marshal(v)
		noTokens(t, name+" JSON", string(j))
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("loaded", "v", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("loaded", "v", v)
		noTokens(t, name+" slog text", text.String())
		noTokens(t, name+" slog JSON", js.String())
	}
	if got := fmt.Sprintf("%v|%+v|%#v|%q", n.url, n.url, n.url, n.url); got != `[redacted]|[redacted]|notify.Secret("[redacted]")|[redacted]` {
		t.Fatalf("Secret prints %s", got)
	}
	if j, _ := json.Marshal(struct{ URL Secret }{n.url}); string(j) != `{"URL":"[redacted]"}` {
		t.Fatalf("JSON %s", j)
	}
	if n.url.Reveal() != "https://oapi.dingtalk.example/robot/send?access_token=DINGTOKEN" || (Secret{}).Reveal() != "" || !(Secret{}).IsZero() {
		t.Fatal("Reveal")
	}
}
