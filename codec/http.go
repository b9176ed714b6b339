package codec

import (
	"net/http"

	"go.temporal.io/sdk/converter"
)

// maxRequestBody bounds a /encode or /decode request. The Web UI sends
// the payloads of one history page; Temporal refuses payloads over 2 MiB.
const maxRequestBody = 32 << 20

// Handler is a codec server: the SDK's /encode and /decode endpoints (at
// any path depth, e.g. /default/decode) with the CORS headers the Temporal
// Web UI needs. The UI calls it from the browser, sending Content-Type,
// X-Namespace and, when configured to, Authorization and cookies.
//
// Only origins in allowOrigins (e.g. http://localhost:8233) get CORS
// headers; a request from any other browser origin is refused. Requests
// without an Origin header (the temporal CLI's --codec-endpoint) are
// served.
func Handler(k *Keyring, allowOrigins []string) http.Handler {
	codec := converter.NewPayloadCodecHTTPHandler(New(k))
	allowed := make(map[string]bool, len(allowOrigins))
	for _, o := range allowOrigins {
		allowed[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin != "" && allowed[origin] {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions {
			// A preflight without the headers above fails in the browser.
			w.WriteHeader(http.StatusOK)
			return
		}
		if origin != "" && !allowed[origin] {
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
		codec.ServeHTTP(w, r)
	})
}
