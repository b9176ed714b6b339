package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// failedMsg has every field set, and a cause that tries to ping a Slack
// channel.
var failedMsg = Message{
	Event:       EventFailed,
	Service:     "web",
	Environment: "production",
	Version:     "v1.4.0",
	Hosts:       []string{"h1", "h2"},
	Outcome:     "1 of 2 hosts failed; all back on v1.3.9",
	Cause:       `h2: health check <!channel> & "timeout"`,
	URL:         "https://temporal.example/namespaces/default/workflows/deploy-web-production/RUN1/history",
	Key:         "RUN1/failed",
}

// startedMsg has no hosts yet and no cause.
var startedMsg = Message{Event: EventStarted, Service: "api", Environment: "staging", Version: "v2",
	Outcome: "deploying", URL: "https://ui.example/RUN2", Key: "RUN2/started"}

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

func checkRequest(t *testing.T, name string, got, want Request) {
	t.Helper()
	if string(got.Body) != string(want.Body) {
		t.Errorf("%s body:\n got %s\nwant %s", name, got.Body, want.Body)
	}
	if !reflect.DeepEqual(got.Header, want.Header) {
		t.Errorf("%s header:\n got %v\nwant %v", name, got.Header, want.Header)
	}
	if got.Query.Encode() != want.Query.Encode() {
		t.Errorf("%s query:\n got %s\nwant %s", name, got.Query.Encode(), want.Query.Encode())
	}
}

func TestSlackRequest(t *testing.T) {
	checkRequest(t, "failed", SlackRequest(failedMsg), Request{Header: jsonHeader, Body: []byte(
		`{"text":"*hoist: web v1.4.0 to production: failed*\nevent: failed\nservice: web\nenvironment: production\nversion: v1.4.0\nhosts: h1, h2\n` +
			`outcome: 1 of 2 hosts failed; all back on v1.3.9\ncause: h2: health check &lt;!channel&gt; &amp; \"timeout\"\n` +
			`url: https://temporal.example/namespaces/default/workflows/deploy-web-production/RUN1/history"}`)})
	checkRequest(t, "started", SlackRequest(startedMsg), Request{Header: jsonHeader, Body: []byte(
		`{"text":"*hoist: api v2 to staging: started*\nevent: started\nservice: api\nenvironment: staging\nversion: v2\nhosts: none\noutcome: deploying\nurl: https://ui.example/RUN2"}`)})
}

func TestDingTalkRequest(t *testing.T) {
	body := `{"msgtype":"markdown","markdown":{"title":"hoist: web v1.4.0 to production: failed","text":"#### hoist: web v1.4.0 to production: failed\n\n` +
		`- event: failed\n- service: web\n- environment: production\n- version: v1.4.0\n- hosts: h1, h2\n- outcome: 1 of 2 hosts failed; all back on v1.3.9\n` +
		`- cause: h2: health check <!channel> & \"timeout\"\n- url: https://temporal.example/namespaces/default/workflows/deploy-web-production/RUN1/history"}}`
	now := time.UnixMilli(1700000000000)
	checkRequest(t, "unsigned", DingTalkRequest(failedMsg, "", now), Request{Header: jsonHeader, Body: []byte(body)})
	// The sign for 1700000000000 and "secret", as published with the
	// dingding crate's tests and recomputed with
	// printf '1700000000000\nsecret' | openssl dgst -sha256 -hmac secret -binary | base64
	checkRequest(t, "signed", DingTalkRequest(failedMsg, "secret", now), Request{Header: jsonHeader, Body: []byte(body),
		Query: url.Values{"timestamp": {"1700000000000"}, "sign": {"OuzzJR5+xZ4/EYwqtNt6sMYZQMTa/HEGvc9miJe7XzY="}}})
	if got := DingTalkRequest(failedMsg, "secret", now).Query.Encode(); got != "sign=OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D&timestamp=1700000000000" {
		t.Fatalf("on the wire the sign is URL-encoded: %s", got)
	}
	checkRequest(t, "started", DingTalkRequest(startedMsg, "", now), Request{Header: jsonHeader, Body: []byte(
		`{"msgtype":"markdown","markdown":{"title":"hoist: api v2 to staging: started","text":"#### hoist: api v2 to staging: started\n\n` +
			`- event: started\n- service: api\n- environment: staging\n- version: v2\n- hosts: none\n- outcome: deploying\n- url: https://ui.example/RUN2"}}`)})
}

// DingTalkSign against DingTalk's documented steps, written out again.
func TestDingTalkSignAsDocumented(t *testing.T) {
	for _, c := range []struct {
		ts     int64
		secret string
	}{{1700000000000, "secret"}, {1577836800123, "SEC0123456789abcdef"}, {time.Now().UnixMilli(), "SECé\n"}} {
		stringToSign := strconv.FormatInt(c.ts, 10) + "\n" + c.secret
		mac := hmac.New(sha256.New, []byte(c.secret))
		mac.Write([]byte(stringToSign))
		if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); DingTalkSign(c.ts, c.secret) != want {
			t.Errorf("%d %q: got %s want %s", c.ts, c.secret, DingTalkSign(c.ts, c.secret), want)
		}
	}
}

func TestWebhookRequest(t *testing.T) {
	body := `{"event":"failed","service":"web","environment":"production","version":"v1.4.0","hosts":["h1","h2"],` +
		`"outcome":"1 of 2 hosts failed; all back on v1.3.9","cause":"h2: health check <!channel> & \"timeout\"",` +
		`"url":"https://temporal.example/namespaces/default/workflows/deploy-web-production/RUN1/history","key":"RUN1/failed"}`
	checkRequest(t, "unsigned", WebhookRequest(failedMsg, ""), Request{Body: []byte(body),
		Header: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"RUN1/failed"}}})
	checkRequest(t, "signed", WebhookRequest(failedMsg, "k"), Request{Body: []byte(body),
		Header: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"RUN1/failed"},
			"X-Hoist-Signature": {WebhookSignature([]byte(body), "k")}}})
	checkRequest(t, "started", WebhookRequest(startedMsg, ""), Request{
		Body:   []byte(`{"event":"started","service":"api","environment":"staging","version":"v2","hosts":[],"outcome":"deploying","cause":"","url":"https://ui.example/RUN2","key":"RUN2/started"}`),
		Header: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"RUN2/started"}}})
	// RFC 4231, test case 2.
	if got := WebhookSignature([]byte("what do ya want for nothing?"), "Jefe"); got != "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" {
		t.Fatalf("signature %s", got)
	}
}
