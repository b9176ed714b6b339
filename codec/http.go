package codec

import (
	"log/slog"
	"net/http"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

// maxRequestBody bounds a /encode or /decode request. The Web UI sends
// the payloads of one history page; Temporal refuses payloads over 2 MiB.
const maxRequestBody = 32 << 20

// maxLoggedNamespace bounds the X-Namespace value a log line repeats: it
// comes from the client, authenticated or not.
const maxLoggedNamespace = 256

// ServerOptions configure Handler.
type ServerOptions struct {
	// AllowOrigins are the browser origins (e.g. http://localhost:8233)
	// that get CORS headers; a request from any other origin is refused.
	AllowOrigins []string
	// Auth decides who may encode and decode. nil refuses every request;
	// NoAuth() serves everyone.
	Auth Authenticator
	// Log gets a line per request: who, namespace, endpoint, payload
	// count, status. Never a payload nor a token. nil discards.
	Log *slog.Logger
}

// Handler is a codec server: the SDK's /encode and /decode endpoints (at
// any path depth, e.g. /default/decode) behind bearer authentication,
// with the CORS headers the Temporal Web UI needs. The UI calls it from
// the browser, sending Content-Type, X-Namespace and, with "pass access
// token", Authorization (and Authorization-Extras, the ID token).
//
// Both endpoints need an `Authorization: Bearer TOKEN` opts.Auth accepts:
// decode reads every secret, encode makes payloads the workers trust.
// Without one the answer is 401 with `WWW-Authenticate: Bearer`, before
// the body is read. A CORS preflight (OPTIONS), which a browser sends
// without credentials, needs none.
//
// Only origins in opts.AllowOrigins get CORS headers; a request from any
// other browser origin is refused (403). Requests without an Origin header
// (the temporal CLI's --codec-endpoint) are served.
func Handler(k *Keyring, opts ServerOptions) http.Handler {
	c := New(k)
	allowed := make(map[string]bool, len(opts.AllowOrigins))
	for _, o := range opts.AllowOrigins {
		allowed[o] = true
	}
	auth := opts.Auth
	if auth == nil {
		auth = refuseAll{}
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin != "" && allowed[origin] {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization, Authorization-Extras")
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions {
			// A preflight without the headers above fails in the browser.
			w.WriteHeader(http.StatusOK)
			return
		}
		line := []any{"endpoint", endpoint(r.URL.Path), "namespace", namespace(r), "remote", r.RemoteAddr}
		if origin != "" {
			line = append(line, "origin", origin)
		}
		if origin != "" && !allowed[origin] {
			http.Error(w, "origin not allowed", http.StatusForbidden)
			log.Warn("codec request refused", append(line, "status", http.StatusForbidden, "reason", "origin not allowed")...)
			return
		}
		token, malformed := bearer(r)
		who, err := auth.Authenticate(token)
		if err != nil {
			challenge := `Bearer realm="hoist codec server"`
			body := "unauthorized: send Authorization: Bearer TOKEN"
			if token != "" || malformed != nil {
				challenge += `, error="invalid_token"`
				body = "unauthorized: invalid token"
			}
			if malformed != nil {
				err = malformed
			}
			h.Set("WWW-Authenticate", challenge)
			http.Error(w, body, http.StatusUnauthorized)
			log.Warn("codec request refused", append(line, "status", http.StatusUnauthorized, "reason", err.Error())...)
			return
		}
		line = append(line, "who", who.Name, "auth", who.Method)
		if who.Email != "" {
			line = append(line, "email", who.Email)
		}

		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
		n := &counted{PayloadCodec: c}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		converter.NewPayloadCodecHTTPHandler(n).ServeHTTP(sw, r)
		line = append(line, "payloads", n.n, "status", sw.status)
		if sw.status == http.StatusOK {
			log.Info("codec request", line...)
		} else {
			log.Warn("codec request failed", line...)
		}
	})
}

// refuseAll is the Authenticator of a Handler given none.
type refuseAll struct{}

func (refuseAll) Authenticate(string) (Caller, error) {
	return Caller{}, errNoAuthenticator
}

var (
	errNoAuthenticator = errorString("the codec server has no authenticator configured")
	errNotBearer       = errorString("Authorization is not a Bearer token")
)

type errorString string

func (e errorString) Error() string { return string(e) }

// bearer returns the token of an `Authorization: Bearer TOKEN` header: ""
// without the header, and an error when it holds something else.
func bearer(r *http.Request) (string, error) {
	v := r.Header.Get("Authorization")
	if v == "" {
		return "", nil
	}
	scheme, token, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", errNotBearer
	}
	return strings.TrimSpace(token), nil
}

// endpoint names the SDK handler's endpoint for path, as it decides it.
func endpoint(path string) string {
	switch {
	case strings.HasSuffix(path, "/encode"):
		return "encode"
	case strings.HasSuffix(path, "/decode"):
		return "decode"
	}
	return "other"
}

// namespace is the X-Namespace the UI and the temporal CLI send, or the
// path's first segment of /NAMESPACE/decode.
func namespace(r *http.Request) string {
	ns := r.Header.Get("X-Namespace")
	if ns == "" {
		if p := strings.Split(strings.Trim(r.URL.Path, "/"), "/"); len(p) == 2 {
			ns = p[0]
		}
	}
	if len(ns) > maxLoggedNamespace {
		ns = ns[:maxLoggedNamespace] + "…"
	}
	return ns
}

// counted counts the payloads of one request.
type counted struct {
	converter.PayloadCodec
	n int
}

func (c *counted) Encode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	c.n += len(ps)
	return c.PayloadCodec.Encode(ps)
}

func (c *counted) Decode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	c.n += len(ps)
	return c.PayloadCodec.Decode(ps)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
