package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// wirePayloads is the codec server protocol's body, the proto JSON of
// temporal.api.common.v1.Payloads: bytes as standard base64.
type wirePayloads struct {
	Payloads []struct {
		Metadata map[string][]byte `json:"metadata,omitempty"`
		Data     []byte            `json:"data,omitempty"`
	} `json:"payloads"`
}

const uiOrigin = "http://localhost:8233"

// testServer serves Handler with key k1, the test tokens and the UI
// origin; its log is in the returned buffer.
func testServer(t *testing.T) (*httptest.Server, *Keyring, *syncBuffer) {
	t.Helper()
	keys := mustParse(t, keyLine(t, "k1"))
	logs := &syncBuffer{}
	srv := httptest.NewServer(Handler(keys, ServerOptions{
		AllowOrigins: []string{uiOrigin},
		Auth:         testTokens(t),
		Log:          slog.New(slog.NewTextHandler(logs, nil)),
	}))
	t.Cleanup(srv.Close)
	return srv, keys, logs
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// post sends ps to path with origin and, unless it is "", the header
// Authorization: auth.
func post(t *testing.T, srv *httptest.Server, path, origin, auth string, ps []*commonpb.Payload) (*http.Response, []*commonpb.Payload) {
	t.Helper()
	var w wirePayloads
	w.Payloads = make([]struct {
		Metadata map[string][]byte `json:"metadata,omitempty"`
		Data     []byte            `json:"data,omitempty"`
	}, len(ps))
	for i, p := range ps {
		w.Payloads[i].Metadata, w.Payloads[i].Data = p.Metadata, p.Data
	}
	body, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp, nil
	}
	var out wirePayloads
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: response %q: %v", path, b, err)
	}
	ps = nil
	for _, p := range out.Payloads {
		ps = append(ps, &commonpb.Payload{Metadata: p.Metadata, Data: p.Data})
	}
	return resp, ps
}

func TestHandlerRoundTrip(t *testing.T) {
	srv, _, _ := testServer(t)
	in := samplePayloads(t)
	resp, enc := post(t, srv, "/encode", uiOrigin, "Bearer "+aliceToken, in)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/encode: %s", resp.Status)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != uiOrigin {
		t.Errorf("/encode: Access-Control-Allow-Origin %q", got)
	}
	for i, p := range enc {
		if string(p.Metadata[MetadataEncoding]) != EncodingEncrypted {
			t.Fatalf("/encode payload %d not encrypted: %v", i, p)
		}
	}
	// The UI posts to {endpoint}/decode; the endpoint may carry the namespace.
	resp, dec := post(t, srv, "/default/decode", "", "bearer "+ciToken, enc)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/decode: %s", resp.Status)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("request without Origin got CORS headers")
	}
	if len(dec) != len(in) {
		t.Fatalf("/decode returned %d payloads, want %d", len(dec), len(in))
	}
	for i := range in {
		if !samePayload(in[i], dec[i]) {
			t.Errorf("payload %d: decoded %v, want %v", i, dec[i], in[i])
		}
	}
}

func TestHandlerDecodeError(t *testing.T) {
	srv, _, _ := testServer(t)
	other := New(mustParse(t, keyLine(t, "other")))
	enc, err := other.Encode([]*commonpb.Payload{{Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := post(t, srv, "/decode", "", "Bearer "+aliceToken, enc)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown key: %s, want 400", resp.Status)
	}
}

func TestHandlerCORS(t *testing.T) {
	h := Handler(mustParse(t, keyLine(t, "k1")), ServerOptions{AllowOrigins: []string{uiOrigin, "http://127.0.0.1:8233"}, Auth: testTokens(t)})
	preflight := func(origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodOptions, "/decode", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "authorization,authorization-extras,content-type,x-namespace")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for _, origin := range []string{uiOrigin, "http://127.0.0.1:8233"} {
		w := preflight(origin)
		if w.Code != http.StatusOK {
			t.Fatalf("preflight from %s: %d", origin, w.Code)
		}
		want := map[string]string{
			"Access-Control-Allow-Origin":      origin,
			"Access-Control-Allow-Methods":     "POST, GET, OPTIONS",
			"Access-Control-Allow-Headers":     "Content-Type, X-Namespace, Authorization, Authorization-Extras",
			"Access-Control-Allow-Credentials": "true",
		}
		for k, v := range want {
			if got := w.Header().Get(k); got != v {
				t.Errorf("preflight from %s: %s = %q, want %q", origin, k, got, v)
			}
		}
		if !strings.Contains(strings.Join(w.Header().Values("Vary"), ","), "Origin") {
			t.Errorf("preflight from %s: no Vary: Origin", origin)
		}
	}

	w := preflight("http://evil.example")
	for k := range w.Header() {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("disallowed origin got %s", k)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/decode", strings.NewReader(`{"payloads":[]}`))
	r.Header.Set("Origin", "http://evil.example")
	r.Header.Set("Authorization", "Bearer "+aliceToken)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Errorf("POST from disallowed origin: %d, want 403", w.Code)
	}
	for k := range w.Header() {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("POST from disallowed origin got %s", k)
		}
	}
}

// rawPost sends body to path with the given headers and returns the
// response with its body read.
func rawPost(t *testing.T, srv *httptest.Server, path string, header map[string]string, body []byte) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func payloadsJSON(t *testing.T, ps []*commonpb.Payload) []byte {
	t.Helper()
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: ps})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHandlerRefusesWithoutValidToken: /decode and /encode answer 401
// with a Bearer challenge to a request without a token, with a wrong one
// or with another scheme, and decrypt nothing.
func TestHandlerRefusesWithoutValidToken(t *testing.T) {
	srv, keys, logs := testServer(t)
	enc, err := New(keys).Encode(samplePayloads(t))
	if err != nil {
		t.Fatal(err)
	}
	body := payloadsJSON(t, enc)
	cleartext := []string{secret, base64.StdEncoding.EncodeToString([]byte(`"` + secret + `"`))}
	cases := []struct {
		name, auth string
		invalid    bool // error="invalid_token" in the challenge
	}{
		{"no Authorization", "", false},
		{"wrong token", "Bearer not-a-token-of-the-file", true},
		{"token with a suffix", "Bearer " + aliceToken + "x", true},
		{"token prefix", "Bearer " + aliceToken[:len(aliceToken)-1], true},
		{"name as token", "Bearer alice", true},
		{"empty bearer", "Bearer ", true},
		{"basic scheme", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+aliceToken)), true},
		{"token without scheme", aliceToken, true},
	}
	for _, path := range []string{"/decode", "/default/decode", "/encode"} {
		for _, c := range cases {
			t.Run(path+" "+c.name, func(t *testing.T) {
				h := map[string]string{"Origin": uiOrigin, "X-Namespace": "default"}
				if c.auth != "" {
					h["Authorization"] = c.auth
				}
				resp, got := rawPost(t, srv, path, h, body)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("%s, want 401; body %q", resp.Status, got)
				}
				ch := resp.Header.Get("WWW-Authenticate")
				if !strings.HasPrefix(ch, "Bearer ") || strings.Contains(ch, `error="invalid_token"`) != c.invalid {
					t.Errorf("WWW-Authenticate %q", ch)
				}
				if len(got) > 100 || strings.Contains(got, "payloads") {
					t.Errorf("body %q: want a short refusal", got)
				}
				for _, s := range cleartext {
					if strings.Contains(got, s) {
						t.Errorf("refused response holds the cleartext: %q", got)
					}
				}
				// The browser can read the refusal (and the UI show it).
				if resp.Header.Get("Access-Control-Allow-Origin") != uiOrigin {
					t.Error("401 without CORS headers for an allowed origin")
				}
			})
		}
	}
	if strings.Contains(logs.String(), aliceToken[:12]) {
		t.Errorf("the log holds a token:\n%s", logs)
	}
}

// TestHandlerServesValidToken: each token of the file decrypts and
// encrypts.
func TestHandlerServesValidToken(t *testing.T) {
	srv, keys, _ := testServer(t)
	in := samplePayloads(t)
	enc, err := New(keys).Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{aliceToken, ciToken} {
		resp, dec := post(t, srv, "/decode", uiOrigin, "Bearer "+tok, enc)
		if resp.StatusCode != http.StatusOK || len(dec) != len(in) || !samePayload(dec[0], in[0]) {
			t.Fatalf("/decode with a valid token: %s, %d payloads", resp.Status, len(dec))
		}
		resp, out := post(t, srv, "/encode", "", "Bearer "+tok, in)
		if resp.StatusCode != http.StatusOK || string(out[0].Metadata[MetadataEncoding]) != EncodingEncrypted {
			t.Fatalf("/encode with a valid token: %s", resp.Status)
		}
	}
}

// TestHandlerLogsCallerAndNamespace: a line per request names who, the
// namespace, the endpoint, the payload count and the status, and never
// a token nor a payload.
func TestHandlerLogsCallerAndNamespace(t *testing.T) {
	srv, keys, logs := testServer(t)
	in := samplePayloads(t)
	enc, err := New(keys).Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := rawPost(t, srv, "/decode", map[string]string{"Authorization": "Bearer " + ciToken, "X-Namespace": "payments"}, payloadsJSON(t, enc))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/decode: %s", resp.Status)
	}
	// The temporal CLI's {namespace} endpoint template, no header.
	if resp, _ := rawPost(t, srv, "/staging/encode", map[string]string{"Authorization": "Bearer " + aliceToken}, payloadsJSON(t, in)); resp.StatusCode != http.StatusOK {
		t.Fatalf("/staging/encode: %s", resp.Status)
	}
	if resp, _ := rawPost(t, srv, "/decode", map[string]string{"Authorization": "Bearer wrong-" + ciToken, "X-Namespace": "payments"}, payloadsJSON(t, enc)); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %s", resp.Status)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want 3:\n%s", len(lines), logs)
	}
	want := [][]string{
		{"level=INFO", "endpoint=decode", "namespace=payments", "who=ci", "auth=token", "payloads=" + strconv.Itoa(len(in)), "status=200"},
		{"level=INFO", "endpoint=encode", "namespace=staging", "who=alice", "payloads=" + strconv.Itoa(len(in)), "status=200"},
		{"level=WARN", "endpoint=decode", "namespace=payments", "status=401", `reason="unknown token"`},
	}
	for i, w := range want {
		for _, s := range w {
			if !strings.Contains(lines[i], s) {
				t.Errorf("log line %d %q lacks %s", i+1, lines[i], s)
			}
		}
	}
	if strings.Contains(lines[2], "who=") {
		t.Errorf("a refused request names a caller: %q", lines[2])
	}
	for _, s := range []string{ciToken, aliceToken, secret, base64.StdEncoding.EncodeToString(enc[0].Data)[:20]} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log holds %q:\n%s", s, logs)
		}
	}
}

// TestHandlerWithoutAuthenticatorRefuses: ServerOptions without Auth is
// not an open server.
func TestHandlerWithoutAuthenticatorRefuses(t *testing.T) {
	srv := httptest.NewServer(Handler(mustParse(t, keyLine(t, "k1")), ServerOptions{}))
	defer srv.Close()
	for _, auth := range []string{"", "Bearer " + aliceToken} {
		if resp, _ := post(t, srv, "/encode", "", auth, samplePayloads(t)); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %s, want 401", auth, resp.Status)
		}
	}
}

// TestHandlerNoAuth: NoAuth serves without a token, as anonymous.
func TestHandlerNoAuth(t *testing.T) {
	logs := &syncBuffer{}
	srv := httptest.NewServer(Handler(mustParse(t, keyLine(t, "k1")), ServerOptions{Auth: NoAuth(), Log: slog.New(slog.NewTextHandler(logs, nil))}))
	defer srv.Close()
	for _, auth := range []string{"", "Basic eDp5"} {
		if resp, _ := post(t, srv, "/encode", "", auth, samplePayloads(t)); resp.StatusCode != http.StatusOK {
			t.Errorf("Authorization %q: %s, want 200", auth, resp.Status)
		}
	}
	if !strings.Contains(logs.String(), "who=anonymous auth=none") {
		t.Errorf("log:\n%s", logs)
	}
}
