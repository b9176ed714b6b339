package codec

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
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

func post(t *testing.T, srv *httptest.Server, path, origin string, ps []*commonpb.Payload) (*http.Response, []*commonpb.Payload) {
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
	srv := httptest.NewServer(Handler(mustParse(t, keyLine(t, "k1")), []string{uiOrigin}))
	defer srv.Close()
	in := samplePayloads(t)
	resp, enc := post(t, srv, "/encode", uiOrigin, in)
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
	resp, dec := post(t, srv, "/default/decode", "", enc)
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
	srv := httptest.NewServer(Handler(mustParse(t, keyLine(t, "k1")), nil))
	defer srv.Close()
	other := New(mustParse(t, keyLine(t, "other")))
	enc, err := other.Encode([]*commonpb.Payload{{Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := post(t, srv, "/decode", "", enc)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown key: %s, want 400", resp.Status)
	}
}

func TestHandlerCORS(t *testing.T) {
	h := Handler(mustParse(t, keyLine(t, "k1")), []string{uiOrigin, "http://127.0.0.1:8233"})
	preflight := func(origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodOptions, "/decode", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace,authorization")
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
			"Access-Control-Allow-Headers":     "Content-Type, X-Namespace, Authorization",
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
