package commands

import (
	"strings"
	"testing"
	"time"
)

// The exact bytes hoist writes as the proxy's config (what EnsureProxy
// writes as ProxyConfigFile): each field was
// checked against Caddy v2.11.9's source (admin.go, caddyhttp/server.go,
// autohttps.go, reverseproxy/reverseproxy.go, httptransport.go,
// headers/headers.go), and
// Caddy refuses unknown fields, so the integration test's proxy starting
// at all proves the names.
const wantCaddyJSON = `{
  "admin": {
    "disabled": true,
    "config": {
      "persist": false
    }
  },
  "apps": {
    "http": {
      "servers": {
        "hoist": {
          "listen": [
            ":80"
          ],
          "automatic_https": {
            "disable": true
          },
          "routes": [
            {
              "handle": [
                {
                  "handler": "reverse_proxy",
                  "transport": {
                    "protocol": "http",
                    "dial_timeout": "1s"
                  },
                  "upstreams": [
                    {
                      "dial": "{file./etc/hoist-proxy/upstream/dial}"
                    }
                  ],
                  "load_balancing": {
                    "try_duration": "5s",
                    "try_interval": "50ms"
                  },
                  "headers": {
                    "response": {
                      "set": {
                        "X-Hoist-Upstream": [
                          "{http.reverse_proxy.upstream.hostport}"
                        ]
                      }
                    }
                  }
                }
              ]
            }
          ]
        }
      }
    }
  }
}
`

func TestCaddyConfig(t *testing.T) {
	got, err := CaddyConfig(ProxySpec{Name: UpstreamFile})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != wantCaddyJSON {
		t.Fatalf("got\n%s\nwant\n%s", got, wantCaddyJSON)
	}
	// Explicit retries are rendered as Caddy durations.
	got, err = CaddyConfig(ProxySpec{Name: "api.v2", TryDuration: 1500 * time.Millisecond, TryInterval: 20 * time.Millisecond, DialTimeout: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"dial": "{file./etc/hoist-proxy/upstream/api.v2}"`, `"try_duration": "1.5s"`, `"try_interval": "20ms"`, `"dial_timeout": "250ms"`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("config lacks %s:\n%s", want, got)
		}
	}
}

func TestCaddyConfigRefuses(t *testing.T) {
	for _, p := range []ProxySpec{
		{Name: ""},
		{Name: "../etc/passwd"},
		{Name: "web}"},
		{Name: "-web"},
		{Name: "web", TryDuration: -time.Second},
		{Name: "web", TryDuration: time.Second, TryInterval: 2 * time.Second},
		{Name: "web", DialTimeout: -time.Second},
	} {
		if b, err := CaddyConfig(p); err == nil {
			t.Errorf("%+v accepted:\n%s", p, b)
		}
	}
}
