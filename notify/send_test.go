package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// received is what a test receiver accepted.
type received struct {
	mu     sync.Mutex
	bodies [][]byte
	keys   []string // Idempotency-Key, webhook only
}

func (r *received) add(body []byte, key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies, r.keys = append(r.bodies, body), append(r.keys, key)
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// slackReceiver answers like a Slack incoming webhook: "ok", or 400
// invalid_payload for a body without text, 404 no_service for another
// path.
func slackReceiver(t *testing.T, got *received) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p struct{ Text string }
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		switch {
		case r.URL.Path != "/services/T0/B0/SLACKTOKEN":
			http.Error(w, "no_service", http.StatusNotFound)
		case r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || dec.Decode(&p) != nil || p.Text == "":
			http.Error(w, "invalid_payload", http.StatusBadRequest)
		default:
			got.add(body, "")
			io.WriteString(w, "ok")
		}
	}
}

// dingTalkReceiver answers like a DingTalk custom robot secured by
// secret: HTTP 200 always, errcode 0 only for a known token, a timestamp
// within an hour and the sign DingTalk's algorithm gives.
func dingTalkReceiver(t *testing.T, secret string, got *received) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		answer := func(code int, msg string) { fmt.Fprintf(w, `{"errcode":%d,"errmsg":%q}`, code, msg) }
		q := r.URL.Query()
		body, _ := io.ReadAll(r.Body)
		if q.Get("access_token") != "DINGTOKEN" {
			answer(300001, "token is not exist")
			return
		}
		ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		if err != nil || time.Since(time.UnixMilli(ts)).Abs() > time.Hour {
			answer(310000, "invalid timestamp "+q.Get("timestamp"))
			return
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(q.Get("timestamp") + "\n" + secret))
		sign, err := base64.StdEncoding.DecodeString(q.Get("sign")) // Query() has undone the URL-encoding
		if err != nil || !hmac.Equal(sign, mac.Sum(nil)) {
			answer(310000, "sign not match, more: [https://open.dingtalk.com/document/robots/customize-robot-security-settings]")
			return
		}
		var p struct {
			MsgType  string `json:"msgtype"`
			Markdown struct{ Title, Text string }
		}
		if json.Unmarshal(body, &p) != nil || p.MsgType != "markdown" || p.Markdown.Title == "" || p.Markdown.Text == "" {
			answer(40035, "缺少参数 json")
			return
		}
		got.add(body, "")
		answer(0, "ok")
	}
}

// webhookReceiver verifies X-Hoist-Signature over the raw body, as the
// package doc tells receivers to, and that the key header matches the body.
func webhookReceiver(t *testing.T, secret string, got *received) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		sig, err := hex.DecodeString(strings.TrimPrefix(r.Header.Get("X-Hoist-Signature"), "sha256="))
		if err != nil || !strings.HasPrefix(r.Header.Get("X-Hoist-Signature"), "sha256=") || !hmac.Equal(sig, mac.Sum(nil)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var fields map[string]any
		if err := json.Unmarshal(body, &fields); err != nil {
			http.Error(w, "not JSON", http.StatusBadRequest)
			return
		}
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"cause", "environment", "event", "hosts", "key", "outcome", "service", "url", "version"}) ||
			fields["key"] != r.Header.Get("Idempotency-Key") {
			http.Error(w, "unexpected fields "+strings.Join(keys, ","), http.StatusUnprocessableEntity)
			return
		}
		got.add(body, r.Header.Get("Idempotency-Key"))
		w.WriteHeader(http.StatusNoContent)
	}
}

func newSet(t *testing.T, yml string, env map[string]string) *Set {
	t.Helper()
	s, err := Parse([]byte(yml), "notify.yml", "/", envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sendErr sends and checks the error is an *Error showing no token.
func sendErr(t *testing.T, s *Sender, name string, m Message) *Error {
	t.Helper()
	err := s.Send(context.Background(), name, m)
	if err == nil {
		t.Fatalf("send to %s: no error", name)
	}
	noTokens(t, "error", err.Error())
	noTokens(t, "error %+v", fmt.Sprintf("%+v", err))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("not an *Error: %v", err)
	}
	if e.Notifier != name || e.Event != m.Event {
		t.Fatalf("error names %s/%s: %v", e.Notifier, e.Event, err)
	}
	return e
}

func TestSendToEachService(t *testing.T) {
	var slack, ding, hook received
	slackSrv := httptest.NewServer(slackReceiver(t, &slack))
	dingSrv := httptest.NewServer(dingTalkReceiver(t, "SECDINGSECRET", &ding))
	hookSrv := httptest.NewServer(webhookReceiver(t, "HMACSECRET", &hook))
	defer slackSrv.Close()
	defer dingSrv.Close()
	defer hookSrv.Close()
	set := newSet(t, `notifiers:
  ops-slack: {type: slack, url_env: S}
  ops-dingtalk: {type: dingtalk, url_env: D, secret_env: DS}
  ci: {type: webhook, url_env: W, hmac_secret_env: WS}
`, map[string]string{
		"S": slackSrv.URL + "/services/T0/B0/SLACKTOKEN",
		"D": dingSrv.URL + "/robot/send?access_token=DINGTOKEN", "DS": "SECDINGSECRET",
		"W": hookSrv.URL + "/hooks/HOOKTOKEN", "WS": "HMACSECRET",
	})
	sent := time.Now().Add(-50 * time.Minute) // a slow clock, still within DingTalk's hour
	s := &Sender{Set: set, Now: func() time.Time { return sent }}
	for _, name := range set.Names() {
		if err := s.Send(context.Background(), name, failedMsg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if slack.count() != 1 || string(slack.bodies[0]) != string(SlackRequest(failedMsg).Body) {
		t.Errorf("slack got %q", slack.bodies)
	}
	if ding.count() != 1 || string(ding.bodies[0]) != string(DingTalkRequest(failedMsg, "", sent).Body) {
		t.Errorf("dingtalk got %q", ding.bodies)
	}
	if hook.count() != 1 || string(hook.bodies[0]) != string(WebhookRequest(failedMsg, "").Body) || hook.keys[0] != "RUN1/failed" {
		t.Errorf("webhook got %q %q", hook.bodies, hook.keys)
	}

	// DingTalk refuses a clock more than an hour off, and a wrong secret;
	// both fail the same way on every try.
	sent = time.Now().Add(-61 * time.Minute)
	e := sendErr(t, s, "ops-dingtalk", failedMsg)
	if !errors.Is(e, ErrPermanent) || e.Status != 200 || !strings.HasPrefix(e.Error(),
		"notify ops-dingtalk, event failed: DingTalk refused the message: errcode 310000, errmsg invalid timestamp ") ||
		!strings.HasSuffix(e.Error(), "; check notifier ops-dingtalk in notify.yml") {
		t.Errorf("late clock: %v", e)
	}
	sent = time.Now()
	wrong := newSet(t, "notifiers:\n  d: {type: dingtalk, url_env: D, secret_env: DS}\n  w: {type: webhook, url_env: W, hmac_secret_env: WS}\n",
		map[string]string{"D": dingSrv.URL + "/robot/send?access_token=DINGTOKEN", "DS": "SECother", "W": hookSrv.URL + "/h", "WS": "other"})
	s.Set = wrong
	e = sendErr(t, s, "d", failedMsg)
	if want := "notify d, event failed: DingTalk refused the message: errcode 310000, errmsg sign not match, more: " +
		"[https://open.dingtalk.com/document/robots/customize-robot-security-settings]; check notifier d in notify.yml"; e.Error() != want || !errors.Is(e, ErrPermanent) {
		t.Errorf("wrong secret:\n got %v\nwant %s", e, want)
	}
	e = sendErr(t, s, "w", failedMsg)
	if want := "notify w, event failed: HTTP 401: bad signature; check notifier w in notify.yml"; e.Error() != want || !errors.Is(e, ErrPermanent) || e.Status != 401 {
		t.Errorf("wrong hmac secret:\n got %v\nwant %s", e, want)
	}
	if ding.count() != 1 || hook.count() != 1 {
		t.Fatal("a refused message was recorded")
	}
}

// An unsigned DingTalk robot (keyword security) gets no timestamp or sign.
func TestSendDingTalkUnsigned(t *testing.T) {
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	defer srv.Close()
	set := newSet(t, "notifiers:\n  d: {type: dingtalk, url_env: D}\n", map[string]string{"D": srv.URL + "/robot/send?access_token=DINGTOKEN"})
	if err := (&Sender{Set: set}).Send(context.Background(), "d", startedMsg); err != nil {
		t.Fatal(err)
	}
	if query != "access_token=DINGTOKEN" {
		t.Fatalf("query %q", query)
	}
}

func TestSendClassifiesAnswers(t *testing.T) {
	var status atomic.Int32
	var answer atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status.Load() == 429 {
			w.Header().Set("Retry-After", "7")
		}
		if status.Load()/100 == 3 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(int(status.Load()))
		// Answers may echo the request, token and all, as proxy pages do.
		io.WriteString(w, strings.NewReplacer("{path}", r.URL.Path, "{token}", r.URL.Query().Get("access_token")).Replace(answer.Load().(string)))
	}))
	defer srv.Close()
	set := newSet(t, "notifiers:\n  s: {type: slack, url_env: S}\n  d: {type: dingtalk, url_env: D, secret_env: DS}\n",
		map[string]string{"S": srv.URL + "/services/T0/B0/SLACKTOKEN", "D": srv.URL + "/robot/send?access_token=DINGTOKEN", "DS": "SECDINGSECRET"})
	s := &Sender{Set: set} // the default client: no redirects followed
	cases := []struct {
		name      string
		status    int
		answer    string
		permanent bool
		msg       string // the error after "notify NAME, event failed: "; "" for success
	}{
		{"s", 200, "ok", false, ""},
		{"s", 204, "", false, ""},
		{"s", 400, "invalid_payload for {path}", true, "HTTP 400: invalid_payload for [redacted]; check notifier s in notify.yml"},
		{"s", 403, "action_prohibited", true, "HTTP 403: action_prohibited; check notifier s in notify.yml"},
		{"s", 404, "no_service", true, "HTTP 404: no_service; check notifier s in notify.yml"},
		{"s", 410, "channel_is_archived", true, "HTTP 410: channel_is_archived; check notifier s in notify.yml"},
		{"s", 408, "", false, "HTTP 408"},
		{"s", 429, "rate_limited", false, "HTTP 429: rate_limited"},
		{"s", 500, "rollup_error\n\tat {path}", false, "HTTP 500: rollup_error at [redacted]"},
		{"s", 502, "<html>bad gateway</html>", false, "HTTP 502: <html>bad gateway</html>"},
		{"s", 503, "", false, "HTTP 503"},
		{"s", 301, "moved", true, "HTTP 301: redirected, and notifications follow no redirect; use the final URL; check notifier s in notify.yml"},
		{"s", 302, "", true, "HTTP 302: redirected, and notifications follow no redirect; use the final URL; check notifier s in notify.yml"},
		{"d", 200, `{"errcode":0,"errmsg":"ok"}`, false, ""},
		{"d", 200, `{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}`, false,
			"DingTalk refused the message: errcode 130101, errmsg send too fast, exceed 20 times per minute"},
		{"d", 200, `{"errcode":-1,"errmsg":"系统繁忙"}`, false, "DingTalk refused the message: errcode -1, errmsg 系统繁忙"},
		{"d", 200, `{"errcode":310000,"errmsg":"keywords not in content"}`, true,
			"DingTalk refused the message: errcode 310000, errmsg keywords not in content; check notifier d in notify.yml"},
		{"d", 200, `{"errcode":300001,"errmsg":"token is not exist: {token}"}`, true,
			"DingTalk refused the message: errcode 300001, errmsg token is not exist: [redacted]; check notifier d in notify.yml"},
		{"d", 200, `{"errcode":40035,"errmsg":""}`, true, "DingTalk refused the message: errcode 40035, errmsg ; check notifier d in notify.yml"},
		{"d", 200, `<html>captive portal</html>`, false, "HTTP 200 without DingTalk's {errcode, errmsg}: <html>captive portal</html>"},
		{"d", 200, `{"ok":true}`, false, "HTTP 200 without DingTalk's {errcode, errmsg}: {\"ok\":true}"},
		{"d", 503, "busy", false, "HTTP 503: busy"},
	}
	for _, c := range cases {
		status.Store(int32(c.status))
		answer.Store(c.answer)
		err := s.Send(context.Background(), c.name, failedMsg)
		if c.msg == "" {
			if err != nil {
				t.Errorf("%s %d %q: %v", c.name, c.status, c.answer, err)
			}
			continue
		}
		e := sendErr(t, s, c.name, failedMsg)
		if want := "notify " + c.name + ", event failed: " + c.msg; e.Error() != want || errors.Is(e, ErrPermanent) != c.permanent || e.Status != c.status {
			t.Errorf("%s %d %q:\n got %v (permanent %v, status %d)\nwant %s (permanent %v)", c.name, c.status, c.answer, e, e.Permanent, e.Status, want, c.permanent)
		}
		if c.status == 429 && e.RetryAfter != 7*time.Second {
			t.Errorf("429: retry after %v", e.RetryAfter)
		}
	}
}

func TestSendQuotesLittleOfTheAnswer(t *testing.T) {
	long := strings.Repeat("é", 150) + "SLACKTOKEN" // 300 bytes before the token
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, long+strings.Repeat("x", 1<<20))
	}))
	defer srv.Close()
	set := newSet(t, "notifiers:\n  s: {type: slack, url_env: S}\n", map[string]string{"S": srv.URL + "/services/T0/B0/SLACKTOKEN"})
	e := sendErr(t, &Sender{Set: set}, "s", failedMsg)
	quoted := strings.TrimPrefix(e.Error(), "notify s, event failed: HTTP 500: ")
	if len(quoted) > maxExcerpt || quoted != strings.Repeat("é", 98)+"..." {
		t.Fatalf("quoted %d bytes: %q", len(quoted), quoted)
	}
}

func TestSendWithoutAnAnswer(t *testing.T) {
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer slow.Close()
	defer close(block)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	set := newSet(t, "notifiers:\n  slow: {type: slack, url_env: SLOW}\n  gone: {type: slack, url_env: GONE}\n", map[string]string{
		"SLOW": slow.URL + "/services/T0/B0/SLACKTOKEN", "GONE": closed.URL + "/services/T0/B0/SLACKTOKEN"})
	s := &Sender{Set: set, Client: &http.Client{Timeout: 50 * time.Millisecond}}

	e := sendErr(t, s, "slow", failedMsg)
	if errors.Is(e, ErrPermanent) || e.Status != 0 || !strings.HasPrefix(e.Error(), "notify slow, event failed: no answer: timed out: ") {
		t.Errorf("timeout: %v", e)
	}
	e = sendErr(t, s, "gone", failedMsg)
	if errors.Is(e, ErrPermanent) || !strings.Contains(e.Error(), "connection refused") {
		t.Errorf("refused: %v", e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Send(ctx, "slow", failedMsg)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrPermanent) {
		t.Errorf("cancelled: %v", err)
	}
	noTokens(t, "cancelled", err.Error())
}

// What cannot be sent is refused before any request.
func TestSendRefuses(t *testing.T) {
	var got received
	srv := httptest.NewServer(webhookReceiver(t, "", &got))
	defer srv.Close()
	set := newSet(t, "notifiers:\n  ci: {type: webhook, url_env: W}\n", map[string]string{"W": srv.URL})
	s := &Sender{Set: set}
	noKey, badEvent := failedMsg, failedMsg
	noKey.Key, badEvent.Event = "", "deployed"
	for name, c := range map[string]struct {
		notifier string
		m        Message
		want     string
	}{
		"unknown notifier": {"ops", failedMsg, `notify ops, event failed: notify: no notifier "ops" on this worker (it has: ci); add it to notify.yml (--notify-config)`},
		"no key":           {"ci", noKey, "notify ci, event failed: the message has no idempotency key (the deploy run and event)"},
		"bad event":        {"ci", badEvent, `notify ci, event deployed: the message's event "deployed" is not one of started, awaiting_approval, failed, rolled_back, succeeded`},
	} {
		e := sendErr(t, s, c.notifier, c.m)
		if e.Error() != c.want || !errors.Is(e, ErrPermanent) {
			t.Errorf("%s:\n got %v\nwant %s", name, e, c.want)
		}
	}
	if got.count() != 0 {
		t.Fatal("a refused message was sent")
	}
	e := sendErr(t, &Sender{}, "ci", failedMsg)
	if !strings.Contains(e.Error(), "start the worker with --notify-config FILE") || !errors.Is(e, ErrPermanent) {
		t.Fatalf("no set: %v", e)
	}
}
