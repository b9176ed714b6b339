package commands

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"time"
)

// The proxy's config (see slots.go for the rest of strategy
// zero-downtime): Caddy, configured once and never reloaded; the slot it
// sends traffic to is the content of one small file (host:port of the
// serving container) that Caddy re-reads on every request, so a switch is
// a file rename on the host (Layout.WriteProxyFile).
const (
	// ProxyPort is the port Caddy listens on inside its container; the
	// host publishes proxy.listen to it.
	ProxyPort = 80
	// UpstreamHeader names, on every proxied response, the host:port the
	// proxy actually sent the request to: hoist checks through the proxy
	// which slot answered.
	UpstreamHeader = "X-Hoist-Upstream"

	// DefaultTryDuration is how long the proxy keeps retrying a request
	// whose upstream refuses connections (a slot being stopped, or the
	// file pointing at a container not yet listening).
	DefaultTryDuration = 5 * time.Second
	// DefaultTryInterval is the pause between those retries.
	DefaultTryInterval = 50 * time.Millisecond
	// DefaultDialTimeout bounds one attempt to connect to the upstream.
	// Caddy's own default is 3 s, and a container that is stopped (or
	// restarting) has left the network, so Docker's DNS forwards its name
	// to the host's resolvers: where those do not answer (the test bed,
	// any host without outside DNS) the lookup hangs until the dial
	// timeout. With 3 s a request gets two attempts in try_duration and
	// sees a switch back to a running slot seconds late or never; with
	// 1 s it re-reads the upstream file every second. A connection to a
	// container on the same host's network takes well under a millisecond.
	DefaultDialTimeout = time.Second
)

// ProxySpec is what the proxy's config depends on.
type ProxySpec struct {
	// Name is the upstream file's name in the proxy folder's UpstreamDir
	// (UpstreamFile).
	Name string
	// TryDuration and TryInterval bound the retries of a request that
	// cannot reach its upstream, DialTimeout one attempt; zero means the
	// defaults above.
	TryDuration time.Duration
	TryInterval time.Duration
	DialTimeout time.Duration
}

// ProxyUpstreamFile is where the proxy container reads name's upstream.
func ProxyUpstreamFile(name string) string { return path.Join(ProxyMount, UpstreamDir, name) }

// The config, as the Caddy JSON structure; field order is output order.
type (
	caddyConfig struct {
		Admin caddyAdmin `json:"admin"`
		Apps  caddyApps  `json:"apps"`
	}
	caddyAdmin struct {
		Disabled bool `json:"disabled"`
		Config   struct {
			Persist bool `json:"persist"`
		} `json:"config"`
	}
	caddyApps struct {
		HTTP struct {
			Servers map[string]caddyServer `json:"servers"`
		} `json:"http"`
	}
	caddyServer struct {
		Listen    []string `json:"listen"`
		AutoHTTPS struct {
			Disable bool `json:"disable"`
		} `json:"automatic_https"`
		Routes []caddyRoute `json:"routes"`
	}
	caddyRoute struct {
		Handle []caddyProxy `json:"handle"`
	}
	caddyProxy struct {
		Handler   string `json:"handler"`
		Transport struct {
			Protocol    string `json:"protocol"`
			DialTimeout string `json:"dial_timeout"`
		} `json:"transport"`
		Upstreams     []caddyUpstream `json:"upstreams"`
		LoadBalancing struct {
			TryDuration string `json:"try_duration"`
			TryInterval string `json:"try_interval"`
		} `json:"load_balancing"`
		Headers struct {
			Response struct {
				Set map[string][]string `json:"set"`
			} `json:"response"`
		} `json:"headers"`
	}
	caddyUpstream struct {
		Dial string `json:"dial"`
	}
)

// CaddyConfig renders the proxy's Caddy config (JSON: the Caddyfile
// adapter appends ":80" to a bare {file.…} upstream, so every request
// would fail). What each part is for:
//   - admin disabled, config not persisted: nothing is written in the
//     container, and there is no reload that could close idle keep-alive
//     connections — the config never changes;
//   - one server on :ProxyPort, automatic HTTPS off (plain HTTP, no
//     certificate work);
//   - one reverse_proxy whose one upstream dials {file.PATH}: Caddy reads
//     the file on each request (a trailing newline is trimmed);
//   - try_duration/try_interval: a request that meets a refused dial is
//     retried (for any method: nothing was sent) until the file names a
//     container that answers; the file is read again on each attempt;
//   - dial_timeout: see DefaultDialTimeout;
//   - no health checks: passive ones would count failures against the one
//     placeholder upstream whatever it points at, and mark it down;
//   - UpstreamHeader set to the upstream actually used.
func CaddyConfig(p ProxySpec) ([]byte, error) {
	if err := CheckServiceName(p.Name); err != nil {
		return nil, fmt.Errorf("proxy upstream name: %w", err)
	}
	try, interval, dial := p.TryDuration, p.TryInterval, p.DialTimeout
	if try == 0 {
		try = DefaultTryDuration
	}
	if interval == 0 {
		interval = DefaultTryInterval
	}
	if dial == 0 {
		dial = DefaultDialTimeout
	}
	if try < 0 || interval < 0 || interval > try {
		return nil, fmt.Errorf("proxy retries: try_interval %s must be at most try_duration %s, both positive", interval, try)
	}
	if dial < 0 {
		return nil, fmt.Errorf("proxy dial timeout %s is negative", dial)
	}

	rp := caddyProxy{
		Handler:   "reverse_proxy",
		Upstreams: []caddyUpstream{{Dial: "{file." + ProxyUpstreamFile(p.Name) + "}"}},
	}
	rp.Transport.Protocol = "http"
	rp.Transport.DialTimeout = dial.String()
	rp.LoadBalancing.TryDuration = try.String()
	rp.LoadBalancing.TryInterval = interval.String()
	rp.Headers.Response.Set = map[string][]string{UpstreamHeader: {"{http.reverse_proxy.upstream.hostport}"}}

	srv := caddyServer{
		Listen: []string{":" + strconv.Itoa(ProxyPort)},
		Routes: []caddyRoute{{Handle: []caddyProxy{rp}}},
	}
	srv.AutoHTTPS.Disable = true

	var c caddyConfig
	c.Admin.Disabled = true
	c.Admin.Config.Persist = false
	c.Apps.HTTP.Servers = map[string]caddyServer{"hoist": srv}

	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
