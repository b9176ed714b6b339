//go:build integration

package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/remote"
)

// What surrounds a deploy (issue 10) on the test bed: --at, deploy
// windows, notifications to real HTTP receivers, release hooks.

const (
	portAt           = 18320
	portWindowWait   = 18321
	portWindowRefuse = 18322
	portNotify       = 18323
	portNotifyKill   = 18324
	portHooks        = 18325
	portAtCancel     = 18326
)

// inbox is a set of receivers checking each request as the real service
// would (DingTalk's timestamp+sign, the webhook's HMAC), keeping the
// messages they accepted.
type inbox struct {
	t                        *testing.T
	dingSecret, hookSecret   string
	slack, dingtalk, webhook *httptest.Server
	mu                       sync.Mutex
	got                      []message
	onWebhook                func(m message) // runs before the webhook answers
}

type message struct {
	to     string // slack | dingtalk | webhook
	text   string // the chat text, or the webhook body
	fields map[string]any
	key    string // Idempotency-Key
}

func newInbox(t *testing.T) *inbox {
	in := &inbox{t: t, dingSecret: "SEC" + strings.Repeat("d", 20), hookSecret: "hmac-" + strings.Repeat("h", 20)}
	in.slack = httptest.NewServer(http.HandlerFunc(in.serveSlack))
	in.dingtalk = httptest.NewServer(http.HandlerFunc(in.serveDingTalk))
	in.webhook = httptest.NewServer(http.HandlerFunc(in.serveWebhook))
	t.Cleanup(func() { in.slack.Close(); in.dingtalk.Close(); in.webhook.Close() })
	return in
}

func (in *inbox) keep(m message) {
	in.mu.Lock()
	in.got = append(in.got, m)
	in.mu.Unlock()
}

func (in *inbox) serveSlack(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var p struct {
		Text string `json:"text"`
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &p) != nil || p.Text == "" {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	in.keep(message{to: "slack", text: p.Text})
	io.WriteString(w, "ok")
}

// serveDingTalk checks the signature as DingTalk documents it:
// sign = Base64(HMAC-SHA256(secret, timestamp+"\n"+secret)), timestamp in
// ms within an hour of now.
func (in *inbox) serveDingTalk(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts, sign := r.URL.Query().Get("timestamp"), r.URL.Query().Get("sign")
	mac := hmac.New(sha256.New, []byte(in.dingSecret))
	mac.Write([]byte(ts + "\n" + in.dingSecret))
	var ms int64
	fmt.Sscan(ts, &ms)
	if sign != base64.StdEncoding.EncodeToString(mac.Sum(nil)) || time.Since(time.UnixMilli(ms)).Abs() > time.Hour {
		io.WriteString(w, `{"errcode":310000,"errmsg":"sign not match"}`)
		return
	}
	var p struct {
		Msgtype  string `json:"msgtype"`
		Markdown struct{ Title, Text string }
	}
	if json.Unmarshal(body, &p) != nil || p.Msgtype != "markdown" || p.Markdown.Text == "" {
		io.WriteString(w, `{"errcode":40035,"errmsg":"invalid msgtype"}`)
		return
	}
	in.keep(message{to: "dingtalk", text: p.Markdown.Text})
	io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
}

func (in *inbox) serveWebhook(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	mac := hmac.New(sha256.New, []byte(in.hookSecret))
	mac.Write(body)
	var fields map[string]any
	if r.Header.Get("X-Hoist-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) || json.Unmarshal(body, &fields) != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	m := message{to: "webhook", text: string(body), fields: fields, key: r.Header.Get("Idempotency-Key")}
	in.keep(m)
	if in.onWebhook != nil {
		in.onWebhook(m)
	}
	w.WriteHeader(http.StatusNoContent)
}

// config writes the worker's --notify-config for the three receivers.
func (in *inbox) config(dir string) string {
	files := map[string]string{"slack-url": in.slack.URL + "/services/T000/B000/XXXX", "ding-url": in.dingtalk.URL + "/robot/send?access_token=tok",
		"ding-secret": in.dingSecret, "hook-secret": in.hookSecret}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			in.t.Fatal(err)
		}
	}
	cfg := fmt.Sprintf(`notifiers:
  ops-slack:    {type: slack, url_file: slack-url}
  ops-dingtalk: {type: dingtalk, url_file: ding-url, secret_file: ding-secret}
  ci:           {type: webhook, url: %q, hmac_secret_file: hook-secret}
`, in.webhook.URL+"/hooks/hoist")
	p := filepath.Join(dir, "notify.yml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		in.t.Fatal(err)
	}
	return p
}

// of is what the receivers got about service, "to:event" in order of
// arrival per receiver.
func (in *inbox) of(service string) map[string][]message {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := map[string][]message{}
	for _, m := range in.got {
		if strings.Contains(m.text, service) {
			out[m.to] = append(out[m.to], m)
		}
	}
	return out
}

func eventsOf(ms []message) string {
	var evs []string
	for _, m := range ms {
		switch {
		case m.fields != nil:
			evs = append(evs, fmt.Sprint(m.fields["event"]))
		default:
			for _, ev := range []string{"started", "awaiting_approval", "succeeded", "rolled_back", "failed"} {
				if strings.Contains(m.text, ev) {
					evs = append(evs, ev)
					break
				}
			}
		}
	}
	return strings.Join(evs, " ")
}

// notifyService is a service on a worker of its own that has the
// inbox's notifiers.
func notifyService(t *testing.T, prefix string, port int, in *inbox) *service {
	s := newService(t, prefix, port, 1)
	s.queue, _ = startTestWorker(t, prefix, []string{"HOIST_NOTIFY_CONFIG=" + in.config(t.TempDir())})
	s.extra = "notify:\n  - {to: ops-slack, on: [started, succeeded, rolled_back, failed]}\n" +
		"  - {to: ops-dingtalk, on: [started, succeeded, rolled_back, failed]}\n  - {to: ci, on: [started, succeeded, rolled_back, failed]}\n"
	return s
}

// Each notifier gets each event once, in the shape its service documents,
// signed; a crash's message is rolled_back with the cause.
func TestNotifySlackDingTalkWebhook(t *testing.T) {
	in := newInbox(t)
	s := notifyService(t, "notify", portNotify, in)
	s.mustDeploy("v1", image("v1"))
	r := s.deploy("v2", image("v2").crashing())
	r.want(t, 1)
	got := in.of(s.name)
	for _, to := range []string{"slack", "dingtalk", "webhook"} {
		if evs := eventsOf(got[to]); evs != "started succeeded started rolled_back" {
			t.Errorf("%s got %q, want started succeeded started rolled_back", to, evs)
		}
	}
	if len(got["webhook"]) != 4 {
		t.Fatalf("webhook: %+v", got["webhook"])
	}
	last := got["webhook"][3].fields
	for k, want := range map[string]any{"event": "rolled_back", "service": s.name, "environment": "production", "version": "v2", "outcome": "rolled back to v1"} {
		if last[k] != want {
			t.Errorf("webhook %s = %v, want %v (%v)", k, last[k], want, last)
		}
	}
	if hosts, _ := last["hosts"].([]any); len(hosts) != 1 || hosts[0] != "h1" {
		t.Errorf("webhook hosts %v", last["hosts"])
	}
	if u, _ := last["url"].(string); !strings.Contains(u, "/namespaces/default/workflows/"+url.PathEscape("deploy/"+s.name)+"/") {
		t.Errorf("webhook url %q is not the deploy's Web UI page", u)
	}
	if c, _ := last["cause"].(string); !strings.Contains(c, "crashed") {
		t.Errorf("webhook cause %q", c)
	}
	if k := got["webhook"][3].key; k == "" || k == got["webhook"][2].key {
		t.Errorf("idempotency keys %q and %q", got["webhook"][2].key, k)
	}
	for _, to := range []string{"slack", "dingtalk"} {
		wantContains(t, to+" text", got[to][3].text, s.name, "v2", "h1", "rolled back to v1", "production")
	}
}

// A worker killed after a message went out and before the send was
// recorded: the next worker does not send it again, and the summary says
// the delivery is unconfirmed.
func TestNotifyOnceWhenWorkerKilledAfterSending(t *testing.T) {
	in := newInbox(t)
	s := newService(t, "notify-kill", portNotifyKill, 1)
	s.queue = fmt.Sprintf("%s-notify-kill", suite.queue)
	cfg := "HOIST_NOTIFY_CONFIG=" + in.config(t.TempDir())
	first, err := startWorker(s.queue, filepath.Join(suite.tmp, s.name+"-w1.log"), []string{cfg})
	if err != nil {
		t.Fatal(err)
	}
	// The first worker is the only one until the message arrives: it
	// sends it, and is killed before the receiver answers; a second worker
	// takes over from there.
	var once sync.Once
	var second *worker
	in.onWebhook = func(m message) {
		if m.fields["event"] != "started" {
			return
		}
		once.Do(func() {
			first.kill(t)
			w, err := startWorker(s.queue, filepath.Join(suite.tmp, s.name+"-w2.log"), []string{cfg})
			if err != nil {
				t.Error(err)
				return
			}
			second = w
		})
	}
	t.Cleanup(func() {
		_ = first.stop()
		if second != nil {
			_ = second.stop()
		}
	})
	s.extra = "notify:\n  - {to: ci, on: [started, succeeded]}\n"
	r := s.deploy("v1", image("v1"))
	r.want(t, 0)
	wantContains(t, "deploy output", r.stdout, "notify ci (started): delivery unconfirmed")
	if evs := eventsOf(in.of(s.name)["webhook"]); evs != "started succeeded" {
		t.Fatalf("webhook got %q, want each event once: started succeeded", evs)
	}
}

// dailyWindow is a window of one minute starting at the next whole minute
// at least 15 s away, in UTC.
func dailyWindow() (string, time.Time) {
	start := time.Now().UTC().Add(15 * time.Second).Truncate(time.Minute).Add(time.Minute)
	end := start.Add(time.Minute)
	return fmt.Sprintf("daily %s-%s", start.Format("15:04"), end.Format("15:04")), start
}

// A deploy outside its windows waits on a durable timer and starts when
// the window opens: no host is touched before.
func TestWindowHoldsDeployThenReleasesIt(t *testing.T) {
	s := newService(t, "window-wait", portWindowWait, 1)
	allow, opens := dailyWindow()
	s.extra = fmt.Sprintf("windows: {timezone: UTC, allow: [%q], outside: wait}\n", allow)
	r := s.mustDeploy("v1", image("v1"))
	wantContains(t, "deploy output", r.stdout, "⏳ Outside its deploy windows: waiting until "+opens.Format(time.RFC3339))
	s.wantServes("v1")
	// The first host step was scheduled once the window had opened.
	var h struct {
		Events []struct {
			EventTime string `json:"eventTime"`
			Attrs     *struct {
				ActivityType struct{ Name string }
			} `json:"activityTaskScheduledEventAttributes"`
		} `json:"events"`
	}
	if err := json.Unmarshal(s.deployHistory().raw, &h); err != nil {
		t.Fatal(err)
	}
	for _, e := range h.Events {
		if e.Attrs != nil && e.Attrs.ActivityType.Name == "InspectHost" {
			at, _ := time.Parse(time.RFC3339Nano, e.EventTime)
			if at.Before(opens) {
				t.Fatalf("InspectHost scheduled at %s, before the window opened at %s", at, opens)
			}
			return
		}
	}
	t.Fatal("no InspectHost in the history")
}

// outside: refuse exits 4 and touches nothing; a rollback inside a freeze
// goes ahead; --ignore-window --reason overrides, recorded in history.
func TestWindowRefusesAndFreezeAllowsRollback(t *testing.T) {
	s := newService(t, "window-refuse", portWindowRefuse, 1)
	today := time.Now().UTC().Format("2006-01-02")
	freeze := fmt.Sprintf("windows: {timezone: UTC, freeze: [%q], outside: refuse}\n", today+"/"+today)
	s.extra = freeze
	r := s.deploy("v1", image("v1"))
	r.want(t, 4)
	wantContains(t, "refusal", r.stdout+r.stderr, "refused at start", "freeze "+today+"/"+today, "nothing was touched", "--ignore-window --reason")
	s.wantNoBase()

	s.extra = ""
	s.mustDeploy("v1", image("v1"))
	s.mustDeploy("v2", image("v2"))
	s.extra = freeze
	s.deploy("v3", image("v3")).want(t, 4)
	s.wantServes("v2")
	s.hoist("rollback", "--config", s.hoistYML()).want(t, 0)
	s.wantServes("v1")
	r = s.deploy("v3", image("v3"), "--ignore-window", "--reason", "hotfix INC-7")
	r.want(t, 0, s.deployedLine("v3"))
	s.wantServes("v3")
	wantContains(t, "history", payloadText(t, s.deployHistory().raw), `"window_override":{"reason":"hotfix INC-7","by":`)
}

// --at: accepted now, waiting in Temporal (status says so), started then.
func TestDeployAt(t *testing.T) {
	s := newService(t, "at", portAt, 1)
	at := time.Now().UTC().Add(20 * time.Second).Truncate(time.Second)
	s.compose("v1", image("v1"))
	r := s.hoist("deploy", "--config", s.hoistYML(), "--version", "v1", "--at", at.Format(time.RFC3339))
	r.want(t, 0)
	wantContains(t, "deploy --at", r.stdout, "Scheduled deploy of "+s.name+" version v1 for "+at.Format(time.RFC3339), "hoist cancel")
	st := s.hoist("status", "--config", s.hoistYML())
	wantContains(t, "status", st.stdout, "In progress: deploy of "+s.name, "⏳ Scheduled: starts at "+at.Format(time.RFC3339))
	s.wantNoBase()
	w := s.hoist("watch", "--config", s.hoistYML())
	w.want(t, 0)
	if time.Now().Before(at) {
		t.Fatalf("the deploy finished before its --at time %s", at)
	}
	s.wantServes("v1")
}

// hoist cancel removes a deploy waiting for --at: nothing reaches a host.
func TestDeployAtCancelled(t *testing.T) {
	s := newService(t, "at-cancel", portAtCancel, 1)
	s.compose("v1", image("v1"))
	at := time.Now().UTC().Add(10 * time.Minute).Format(time.RFC3339)
	s.hoist("deploy", "--config", s.hoistYML(), "--version", "v1", "--at", at).want(t, 0)
	s.hoist("cancel", "--config", s.hoistYML()).want(t, 0)
	h := s.waitHistory("the cancel", 30*time.Second, func(h *history) bool { return !h.running() })
	if acts := h.activities(); len(acts) != 0 {
		t.Fatalf("a cancelled scheduled deploy ran %v", acts)
	}
	s.wantNoBase()
}

// hookCompose writes a release whose hooks are one-off services of the
// test app (-hook) that append "NAME VERSION" to markers/hooks.log on the
// host and exit as failing says ("backup" → exit 1).
func (s *service) hookCompose(version string, markers string, failing ...string) {
	s.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "services:\n  web:\n    image: %s\n    ports: [\"%d:8080\"]\n    environment: {VERSION: %q}\n", suite.env.Image("v1"), s.port, version)
	for _, name := range []string{"backup", "migrate", "verify", "page"} {
		code := "0"
		for _, f := range failing {
			if f == name {
				code = "1"
			}
		}
		fmt.Fprintf(&b, "  %s:\n    image: %s\n    profiles: [hooks]\n    command: [\"-hook\"]\n"+
			"    environment: {VERSION: %q, HOOK_NAME: %s, HOOK_FILE: /markers/hooks.log, HOOK_EXIT: %q}\n"+
			"    volumes: [\"%s:/markers\"]\n", name, suite.env.Image("v1"), version, name, code, markers)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "files", "compose.yaml"), []byte(b.String()), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// Every hook position on a 3-host rollout, against real one-off
// containers: before_up and after_up on every host, once (migrate) on the
// first host of the first batch only; a failing after_up rolls the host
// back and runs on_failure there; a failing before_up changes nothing.
func TestHooksOnRollout(t *testing.T) {
	s := rolloutService(t, "hooks", portHooks, "  batches: [1, \"100%\"]\n")
	markers := "/srv/e2e/" + s.name + "-markers"
	for _, h := range s.hosts {
		ssh(t, h, "mkdir -p "+remote.Quote(markers))
	}
	t.Cleanup(func() {
		for _, h := range s.hosts {
			sshRun(h, "rm -rf "+remote.Quote(markers))
		}
	})
	s.extra += "services: [web]\nhooks:\n  before_up: [{service: backup}, {service: migrate, once: true}]\n" +
		"  after_up: [{service: verify}]\n  on_failure: [{service: page, required: false}]\n"
	logOf := func(h int) string {
		return strings.TrimSpace(ssh(t, h, "cat "+remote.Quote(markers+"/hooks.log")+" 2>/dev/null; true"))
	}
	deploy := func(version string, failing ...string) result {
		s.hookCompose(version, markers, failing...)
		return s.hoist("deploy", "--config", s.hoistYML(), "--version", version)
	}

	deploy("v1").want(t, 0)
	want := map[int]string{1: "backup v1\nmigrate v1\nverify v1", 2: "backup v1\nverify v1", 3: "backup v1\nverify v1"}
	for h, w := range want {
		if got := logOf(h); got != w {
			t.Fatalf("h%d ran hooks %q, want %q", h, got, w)
		}
	}

	r := deploy("v2", "verify")
	r.want(t, 1)
	wantContains(t, "failure", r.stdout+r.stderr, "hook after_up verify", "failed on purpose")
	if got := logOf(1); got != want[1]+"\nbackup v2\nmigrate v2\nverify v2\npage v2" {
		t.Fatalf("h1 hooks after a failing after_up: %q", got)
	}
	for _, h := range []int{2, 3} {
		if got := logOf(h); got != want[h] {
			t.Fatalf("h%d ran hooks of a rollout that stopped at batch 1: %q", h, got)
		}
	}
	if st := s.state(1); st.current != "v1" {
		t.Fatalf("h1 runs %q after its after_up hook failed, want v1", st.current)
	}

	before := logOf(1)
	r = deploy("v3", "backup")
	r.want(t, 1)
	wantContains(t, "failure", r.stdout+r.stderr, "hook before_up backup")
	if got := logOf(1); got != before+"\nbackup v3\npage v3" {
		t.Fatalf("h1 hooks after a failing before_up: %q", got)
	}
	if st := s.state(1); st.current != "v1" {
		t.Fatalf("h1 runs %q after its before_up hook failed, want v1", st.current)
	}
}
