package notify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Message is one notification, built from the workflow's state. It holds
// no secret, so it may travel as an activity input.
type Message struct {
	Event       Event
	Service     string
	Environment string
	Version     string
	Hosts       []string
	Outcome     string // e.g. "3 of 3 hosts on v1.4.0"
	Cause       string // why it failed or rolled back; may be empty
	URL         string // the deploy in the Temporal Web UI
	// Key identifies this notification across retries: the deploy run and
	// the event, e.g. "RUN_ID/failed". Webhook receivers drop repeats.
	Key string
}

// problem says why m cannot be sent, or "".
func (m Message) problem() string {
	switch {
	case !m.Event.Valid():
		return fmt.Sprintf("the message's event %q is not one of %s", m.Event, eventList())
	case m.Key == "":
		return "the message has no idempotency key (the deploy run and event)"
	}
	return ""
}

// Request is what one notification sends: the body, its headers, and the
// query parameters added to the notifier's URL. It never holds the URL,
// so it may be printed.
type Request struct {
	Body   []byte
	Header http.Header
	Query  url.Values // nil when the URL is used as it is
}

// headline is the first line of a chat message. It contains "hoist", the
// keyword a DingTalk robot with keyword security can be set to.
func headline(m Message) string {
	return fmt.Sprintf("hoist: %s %s to %s: %s", m.Service, m.Version, m.Environment, m.Event.phrase())
}

// fields are the lines of a chat message, in order; cause only when set.
func fields(m Message) [][2]string {
	hosts := strings.Join(m.Hosts, ", ")
	if hosts == "" {
		hosts = "none"
	}
	out := [][2]string{
		{"event", string(m.Event)},
		{"service", m.Service},
		{"environment", m.Environment},
		{"version", m.Version},
		{"hosts", hosts},
		{"outcome", m.Outcome},
	}
	if m.Cause != "" {
		out = append(out, [2]string{"cause", m.Cause})
	}
	return append(out, [2]string{"url", m.URL})
}

// slackEscaper escapes what Slack's text format gives meaning to, so that
// a cause reading "<!channel>" cannot ping a channel.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// SlackRequest is an incoming-webhook payload: {"text": ...}, the headline
// in bold and one "name: value" line per field.
func SlackRequest(m Message) Request {
	var b strings.Builder
	b.WriteString("*" + slackEscaper.Replace(headline(m)) + "*")
	for _, f := range fields(m) {
		b.WriteString("\n" + f[0] + ": " + slackEscaper.Replace(f[1]))
	}
	return Request{
		Body: marshal(struct {
			Text string `json:"text"`
		}{b.String()}),
		Header: http.Header{"Content-Type": {"application/json"}},
	}
}

// DingTalkRequest is a custom robot markdown message. With a secret, the
// query carries timestamp and sign for now, as DingTalk's "additional
// signature" security requires.
func DingTalkRequest(m Message, secret string, now time.Time) Request {
	title := headline(m)
	var b strings.Builder
	b.WriteString("#### " + title + "\n")
	for _, f := range fields(m) {
		b.WriteString("\n- " + f[0] + ": " + f[1])
	}
	type markdown struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	}
	r := Request{
		Body: marshal(struct {
			MsgType  string   `json:"msgtype"`
			Markdown markdown `json:"markdown"`
		}{"markdown", markdown{title, b.String()}}),
		Header: http.Header{"Content-Type": {"application/json"}},
	}
	if secret != "" {
		ts := now.UnixMilli()
		r.Query = url.Values{"timestamp": {strconv.FormatInt(ts, 10)}, "sign": {DingTalkSign(ts, secret)}}
	}
	return r
}

// DingTalkSign is Base64(HMAC-SHA256(key=secret, timestamp+"\n"+secret)),
// timestamp in milliseconds since the epoch. DingTalk wants it URL-encoded
// in the query, which url.Values does.
func DingTalkSign(timestampMillis int64, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestampMillis, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// WebhookRequest is the generic webhook's JSON object, with the
// Idempotency-Key header and, with a secret, X-Hoist-Signature.
func WebhookRequest(m Message, hmacSecret string) Request {
	hosts := m.Hosts
	if hosts == nil {
		hosts = []string{} // [] rather than null: receivers iterate it
	}
	body := marshal(struct {
		Event       Event    `json:"event"`
		Service     string   `json:"service"`
		Environment string   `json:"environment"`
		Version     string   `json:"version"`
		Hosts       []string `json:"hosts"`
		Outcome     string   `json:"outcome"`
		Cause       string   `json:"cause"`
		URL         string   `json:"url"`
		Key         string   `json:"key"`
	}{m.Event, m.Service, m.Environment, m.Version, hosts, m.Outcome, m.Cause, m.URL, m.Key})
	h := http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {m.Key}}
	if hmacSecret != "" {
		h.Set("X-Hoist-Signature", WebhookSignature(body, hmacSecret))
	}
	return Request{Body: body, Header: h}
}

// WebhookSignature is "sha256=" + hex(HMAC-SHA256(key=secret, body)).
func WebhookSignature(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// marshal encodes v without HTML escaping: the bodies go to APIs, not
// into web pages, and "<" stays readable in a cause.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("notify: cannot encode a body of strings: " + err.Error()) // cannot happen: strings and slices of them
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
