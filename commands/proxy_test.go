package commands

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The exact bytes hoist writes as the proxy's config: each field was
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
                      "dial": "{file./etc/hoist-proxy/upstream/web}"
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
	got, err := CaddyConfig(ProxySpec{Name: "web"})
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

func TestCheckDial(t *testing.T) {
	for _, ok := range []string{"shop-web-a-web-1:8080", "10.0.0.7:80", "[fd00::7]:8080", "web.internal:65535", "a_b:1"} {
		if err := CheckDial(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "web", ":8080", "web:", "web:0", "web:65536", "web:08080", "web:http",
		"unix//run/x.sock:1", "{file./etc/passwd}:80", "web 1:80", "-web:80", ".web:80", "web:80\n", "web;id:80",
		"[fe80::1%eth0]:80", "fd00::7:8080"} {
		if err := CheckDial(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestWriteUpstream(t *testing.T) {
	got := WriteUpstream("/srv/my shop/.proxy/upstream", "dial", "shop-web-b-web-1:8080").String()
	want := `mkdir -p -- '/srv/my shop/.proxy/upstream' && sh -c 'printf "%s\n" "$1" >"$2" && mv -f -- "$2" "$3"' sh shop-web-b-web-1:8080 '/srv/my shop/.proxy/upstream/.dial.tmp' '/srv/my shop/.proxy/upstream/dial'`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// Run through a real shell, the command leaves the file holding the dial
// and a newline (Caddy trims it), replaced rather than rewritten in place
// (a new inode: what a folder bind mount shows and a reader of the old
// file never sees half of), and no temporary file.
func TestWriteUpstreamRuns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "it's a dir", "upstream")
	run := func(dial string) os.FileInfo {
		t.Helper()
		if out, err := exec.Command("sh", "-c", WriteUpstream(dir, "dial", dial).String()).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		b, err := os.ReadFile(filepath.Join(dir, "dial"))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != dial+"\n" {
			t.Fatalf("file holds %q, want %q", b, dial+"\n")
		}
		fi, err := os.Stat(filepath.Join(dir, "dial"))
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	a := run("shop-web-a-web-1:8080")
	b := run("shop-web-b-web-1:8080")
	if os.SameFile(a, b) {
		t.Error("the upstream file was rewritten in place, not replaced by a rename")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the upstream file: %v", len(entries), entries)
	}
}

func TestWriteUpstreamRefuses(t *testing.T) {
	for _, c := range [][3]string{
		{"srv/x", "dial", "web:80"},
		{"/srv/x/../y", "dial", "web:80"},
		{"/", "dial", "web:80"},
		{"/srv/x", "../dial", "web:80"},
		{"/srv/x", ".dial", "web:80"},
		{"/srv/x", "", "web:80"},
		{"/srv/x", "dial", "web"},
		{"/srv/x", "dial", "$(id):80"},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WriteUpstream%q built a command", c)
				}
			}()
			WriteUpstream(c[0], c[1], c[2])
		}()
	}
}
