package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

const (
	// DefaultTimeout bounds one send when Sender.Client is nil.
	DefaultTimeout = 10 * time.Second
	maxResponse    = 64 << 10 // read of a response body
	maxExcerpt     = 200      // bytes of it quoted in an error
)

// DingTalk errcodes worth retrying: -1 "system busy" and 130101 "send too
// fast" (a robot may post 20 messages a minute). Every other non-zero
// errcode (310000 sign not match, keywords not in content, ip not in
// whitelist, a revoked token) fails the same way each time.
var dingTalkRetryable = map[int]bool{-1: true, 130101: true}

// ErrPermanent matches (errors.Is) a send that retrying cannot help.
var ErrPermanent = errors.New("permanent notify failure")

// Error is a failed send. Its text names the notifier, the event, the
// HTTP status and a short excerpt of the answer; never the URL or secret.
type Error struct {
	Notifier   string
	Event      Event
	Status     int           // HTTP status; 0 when there was no answer
	Permanent  bool          // retrying cannot help
	RetryAfter time.Duration // the server's Retry-After on 429/503, else 0
	Msg        string
	Err        error // the network or context error, when that is the cause
}

func (e *Error) Error() string {
	return fmt.Sprintf("notify %s, event %s: %s", e.Notifier, e.Event, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrPermanent) true for permanent failures.
func (e *Error) Is(target error) bool { return target == ErrPermanent && e.Permanent }

// Sender sends Messages to the notifiers of a Set. The zero Client and Now
// are an http.Client with DefaultTimeout that follows no redirect, and
// time.Now; tests inject their own.
type Sender struct {
	Set    *Set
	Client *http.Client
	Now    func() time.Time // the DingTalk signature's timestamp
}

var defaultClient = &http.Client{
	Timeout: DefaultTimeout,
	// A redirected POST turns into a GET on most servers; report the
	// redirect so the config gets the final URL instead.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Send posts m to the notifier called name.
func (s *Sender) Send(ctx context.Context, name string, m Message) error {
	n := s.Set.lookup(name)
	fail := func(permanent bool, format string, args ...any) *Error {
		return &Error{Notifier: name, Event: m.Event, Permanent: permanent, Msg: fmt.Sprintf(format, args...)}
	}
	if n == nil {
		return fail(true, "%s", s.Set.unknown(name))
	}
	if msg := m.problem(); msg != "" {
		return fail(true, "%s", msg)
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	r := n.request(m, now())
	target, err := url.Parse(n.url.Reveal())
	if err != nil { // checked at load; never quote err, it holds the URL
		return fail(true, "its URL does not parse")
	}
	if r.Query != nil {
		q := target.Query()
		for k, vs := range r.Query {
			q[k] = vs
		}
		target.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(r.Body))
	if err != nil {
		return fail(true, "cannot build the request")
	}
	req.Header = r.Header.Clone()
	req.Header.Set("User-Agent", "hoist-notify")
	client := s.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		e := fail(false, "no answer: %s", n.scrub(transportCause(err)))
		if ctx.Err() != nil {
			e.Err = ctx.Err()
		}
		return e
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	// Scrubbed whole, before any excerpt is cut from it, so that no part
	// of a token survives at the cut.
	body = []byte(n.scrub(string(body)))
	v := judge(n.typ, resp.StatusCode, resp.Header.Get("Retry-After"), body)
	if v == nil {
		return nil
	}
	e := fail(v.permanent, "%s", v.msg)
	e.Status, e.RetryAfter = resp.StatusCode, v.retryAfter
	if v.permanent && v.hint {
		e.Msg += fmt.Sprintf("; check notifier %s in %s", name, s.Set.File())
	}
	return e
}

// request builds n's request for m.
func (n *notifier) request(m Message, now time.Time) Request {
	switch n.typ {
	case typeSlack:
		return SlackRequest(m)
	case typeDingTalk:
		return DingTalkRequest(m, n.secret.Reveal(), now)
	default:
		return WebhookRequest(m, n.secret.Reveal())
	}
}

// transportCause is a client error without the *url.Error wrapping, whose
// text quotes the whole URL, token included.
func transportCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "timed out: " + ue.Err.Error()
		}
		return ue.Err.Error()
	}
	return err.Error()
}

// scrub cuts the URL, its path and query values and the secret out of s:
// a proxy's error page or a DingTalk errmsg may echo the request.
func (n *notifier) scrub(s string) string {
	raw := n.url.Reveal()
	cut := []string{raw, n.secret.Reveal()}
	if u, err := url.Parse(raw); err == nil {
		cut = append(cut, u.RawPath, u.Path, u.RawQuery, u.User.String())
		for _, vs := range u.Query() {
			cut = append(cut, vs...)
		}
	}
	for _, c := range cut {
		if len(c) >= 4 && c != "/" {
			s = strings.ReplaceAll(s, c, redacted)
		}
	}
	return s
}

// verdict is why an answer is a failure.
type verdict struct {
	msg        string
	permanent  bool
	hint       bool // the config is likely wrong: say where to look
	retryAfter time.Duration
}

// judge decides whether a notifier's answer is success (nil) or what kind
// of failure. It is pure, so the classification is tested as a table.
func judge(typ string, status int, retryAfter string, body []byte) *verdict {
	ex := excerpt(body)
	switch {
	case status >= 200 && status < 300:
		if typ == typeDingTalk {
			return judgeDingTalk(body, ex)
		}
		return nil
	case status >= 300 && status < 400:
		return &verdict{msg: fmt.Sprintf("HTTP %d: redirected, and notifications follow no redirect; use the final URL", status), permanent: true, hint: true}
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		v := &verdict{msg: fmt.Sprintf("HTTP %d%s", status, ex)}
		if secs, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil && secs > 0 {
			v.retryAfter = time.Duration(secs) * time.Second
		}
		return v
	default:
		return &verdict{msg: fmt.Sprintf("HTTP %d%s", status, ex), permanent: true, hint: status >= 400 && status < 500}
	}
}

// judgeDingTalk reads DingTalk's answer, which is HTTP 200 even when the
// message was refused: {"errcode": 0, "errmsg": "ok"} is success.
func judgeDingTalk(body []byte, ex string) *verdict {
	var a struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(body, &a); err != nil || a.ErrCode == nil {
		// Not DingTalk's answer (a proxy's page?): whether the message got
		// through is unknown, and another try may reach DingTalk.
		return &verdict{msg: "HTTP 200 without DingTalk's {errcode, errmsg}" + ex}
	}
	if *a.ErrCode == 0 {
		return nil
	}
	msg := fmt.Sprintf("DingTalk refused the message: errcode %d, errmsg %s", *a.ErrCode, oneLine(a.ErrMsg))
	retry := dingTalkRetryable[*a.ErrCode]
	return &verdict{msg: msg, permanent: !retry, hint: !retry}
}

// excerpt is ": " and oneLine(body), or "" for an empty body.
func excerpt(body []byte) string {
	if s := oneLine(string(body)); s != "" {
		return ": " + s
	}
	return ""
}

// oneLine is the first maxExcerpt bytes of s on one printable line, for
// quoting a server's answer in an error.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case !unicode.IsPrint(r):
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxExcerpt {
		cut := maxExcerpt - len("...")
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
