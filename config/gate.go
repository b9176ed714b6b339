package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Values of health.check: what proves a running container healthy.
const (
	// CheckDocker runs the container's own healthcheck command, hoist
	// itself, with docker exec at the poll rate from the moment the
	// container starts, instead of waiting for Docker's interval. A
	// container without a healthcheck is judged running and stable only.
	CheckDocker = "docker"
	// CheckHTTP probes the container's port over the host's Docker
	// network, through the SSH connection: no curl in the image or on
	// the host.
	CheckHTTP = "http"
	// CheckNone: running and stable only.
	CheckNone = "none"
)

// Values of strategy: how a host moves to the new release.
const (
	// StrategyRecreate is `docker compose up -d`: compose replaces the
	// containers in place, and requests in that gap fail.
	StrategyRecreate = "recreate"
	// StrategyZeroDowntime starts the new release beside the old one
	// (two compose projects, SERVICE-a and SERVICE-b), health-gates it,
	// then switches a proxy in front of both to it, drains and stops the
	// old one.
	StrategyZeroDowntime = "zero-downtime"
)

// Defaults of the gate and the proxy.
const (
	DefaultHealthyRuns   = 2
	DefaultUnhealthyRuns = 3 // Docker's own default retries, for http checks and healthchecks without retries
	DefaultHTTPExpect    = 200
	DefaultProxyImage    = "caddy:2.11.9"
	DefaultProxyListen   = "0.0.0.0:80"
	DefaultDrain         = 10 * time.Second
	maxRuns              = 100
	maxDrain             = 10 * time.Minute
)

// HTTPCheck is health.check's http form: GET Path on the container's
// Port must answer Expect.
type HTTPCheck struct {
	Path   string `json:"path"`
	Port   int    `json:"port"`
	Expect int    `json:"expect"`
}

// Proxy is hoist.yml's proxy block, for strategy: zero-downtime: one
// proxy container per service and host, in front of the slot that serves.
type Proxy struct {
	Service string        `json:"service"` // the compose service that receives traffic
	Port    int           `json:"port"`    // its container port
	Listen  string        `json:"listen"`  // host address:port the proxy publishes; the service's own ports are dropped
	Image   string        `json:"image"`   // the proxy's image (Caddy 2.11)
	Drain   time.Duration `json:"drain"`   // how long the old slot keeps serving in-flight requests after the switch
}

var (
	healthCheckKeys = []string{CheckHTTP}
	httpCheckKeys   = []string{"path", "port", "expect"}
	proxyKeys       = []string{"service", "port", "listen", "image", "drain"}
	// imageRe: a docker image reference, registry/repo:tag or @digest,
	// nothing a shell or docker would read otherwise.
	imageRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._/:-]*(@sha256:[a-f0-9]{64})?$`)
	// pathRe: an HTTP path without spaces, quotes or control characters.
	pathRe = regexp.MustCompile(`^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$`)
)

// healthCheck decodes health.check: a word (docker, none) or {http: {...}}.
func (d *decoder) healthCheck(n *yaml.Node, h *Health) {
	const f = "health.check"
	if n.Kind == yaml.ScalarNode {
		h.Check, _ = d.str(n, f)
		if h.Check == CheckHTTP {
			d.fail(n, f, "http needs its port: check: {http: {path: /up, port: 8080}}")
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, f, "must be docker, none or {http: {path: /up, port: 8080}}, got %s", describe(n))
		return
	}
	d.fields(n, f, healthCheckKeys, func(k string, v *yaml.Node) {
		h.Check, h.HTTP = CheckHTTP, &HTTPCheck{}
		d.fields(v, child(f, k), httpCheckKeys, func(k string, v *yaml.Node) {
			ff := child(f, CheckHTTP+"."+k)
			switch k {
			case "path":
				h.HTTP.Path, _ = d.str(v, ff)
			case "port":
				h.HTTP.Port = d.port(v, ff)
			case "expect":
				h.HTTP.Expect, _ = d.integer(v, ff)
			}
		})
	})
}

func (d *decoder) health(n *yaml.Node, h *Health) {
	d.fields(n, "health", healthKeys, func(k string, v *yaml.Node) {
		f := child("health", k)
		switch k {
		case "unhealthy":
			h.Unhealthy, _ = d.str(v, f)
		case "check":
			d.healthCheck(v, h)
		case "healthy_runs":
			h.HealthyRuns, _ = d.integer(v, f)
		case "unhealthy_runs":
			// 0 means "the healthcheck's own retries": written out, it is a mistake.
			if n, ok := d.integer(v, f); ok && (n < 1 || n > maxRuns) {
				d.fail(v, f, "must be from 1 to %d (leave it out for the healthcheck's own retries), got %d", maxRuns, n)
			} else {
				h.UnhealthyRuns = n
			}
		}
	})
}

func (d *decoder) proxy(n *yaml.Node) *Proxy {
	p := &Proxy{}
	d.fields(n, "proxy", proxyKeys, func(k string, v *yaml.Node) {
		f := child("proxy", k)
		switch k {
		case "service":
			p.Service, _ = d.str(v, f)
		case "port":
			p.Port = d.port(v, f)
		case "listen":
			p.Listen, _ = d.str(v, f)
		case "image":
			p.Image, _ = d.str(v, f)
		case "drain":
			p.Drain = d.duration(v, f)
		}
	})
	return p
}

func (d *decoder) gateDefaults(s *Spec) {
	if !d.given["health.check"] {
		s.Health.Check = CheckDocker
	}
	if s.Health.HTTP != nil {
		if s.Health.HTTP.Path == "" && !d.given["health.check.http.path"] {
			s.Health.HTTP.Path = "/"
		}
		if !d.given["health.check.http.expect"] {
			s.Health.HTTP.Expect = DefaultHTTPExpect
		}
	}
	if !d.given["health.healthy_runs"] {
		s.Health.HealthyRuns = DefaultHealthyRuns
	}
	if !d.given["strategy"] {
		s.Strategy = StrategyRecreate
	}
	if p := s.Proxy; p != nil {
		if !d.given["proxy.listen"] {
			p.Listen = DefaultProxyListen
		}
		if !d.given["proxy.image"] {
			p.Image = DefaultProxyImage
		}
		if !d.given["proxy.drain"] {
			p.Drain = DefaultDrain
		}
	}
}

// gateProblems checks health.check, the strategy and the proxy.
func (s *Spec) gateProblems(p *problemList) {
	h := s.Health
	switch h.Check {
	case "", CheckDocker, CheckNone: // "": a spec from before health.check
	case CheckHTTP:
		if h.HTTP == nil || h.HTTP.Port == 0 {
			p.add("health.check.http.port", "is required")
		} else {
			if !pathRe.MatchString(h.HTTP.Path) {
				p.add("health.check.http.path", fmt.Sprintf("must be a path starting with /, without spaces or quotes, got %q", h.HTTP.Path))
			}
			if h.HTTP.Expect < 100 || h.HTTP.Expect > 599 {
				p.add("health.check.http.expect", fmt.Sprintf("must be an HTTP status from 100 to 599, got %d", h.HTTP.Expect))
			}
		}
	default:
		p.add("health.check", fmt.Sprintf("must be %s, %s or {http: {path: /up, port: 8080}}, got %q", CheckDocker, CheckNone, h.Check))
	}
	if h.HealthyRuns < 0 || h.HealthyRuns > maxRuns || h.HealthyRuns == 0 && h.Check != "" {
		p.add("health.healthy_runs", fmt.Sprintf("must be from 1 to %d, got %d", maxRuns, h.HealthyRuns))
	}
	if h.UnhealthyRuns < 0 || h.UnhealthyRuns > maxRuns {
		p.add("health.unhealthy_runs", fmt.Sprintf("must be from 1 to %d (leave it out for the healthcheck's own retries), got %d", maxRuns, h.UnhealthyRuns))
	}

	switch s.Strategy {
	case "", StrategyRecreate: // "": a spec from before strategy
		if s.Proxy != nil {
			p.add("proxy", "is only used with strategy: zero-downtime")
		}
	case StrategyZeroDowntime:
		if s.Proxy == nil {
			p.add("proxy", "is required with strategy: zero-downtime: {service: web, port: 8080}")
			return
		}
		s.Proxy.problems(p, s.Service, s.Services)
	default:
		p.add("strategy", fmt.Sprintf("must be %s or %s, got %q", StrategyRecreate, StrategyZeroDowntime, s.Strategy))
	}
}

// slotSuffixLen is what a slot adds to the service's project name ("-a").
const slotSuffixLen = 2

func (x *Proxy) problems(p *problemList, service string, services []string) {
	if x.Service == "" {
		p.add("proxy.service", "is required: the compose service that receives traffic")
	} else if msg := checkServiceName(x.Service); msg != "" {
		p.add("proxy.service", msg)
	} else if len(services) > 0 && !contains(services, x.Service) {
		p.add("proxy.service", fmt.Sprintf("%q is not among services: %s (its health decides the switch)", x.Service, strings.Join(services, ", ")))
	}
	if x.Port == 0 {
		p.add("proxy.port", "is required: the container port the service listens on")
	}
	p.add("proxy.listen", checkListen(x.Listen))
	if len(x.Image) > 255 || !imageRe.MatchString(x.Image) {
		p.add("proxy.image", fmt.Sprintf("must be an image reference like caddy:2.11.9, got %q", x.Image))
	}
	if x.Drain < 0 || x.Drain > maxDrain {
		p.add("proxy.drain", fmt.Sprintf("must be from 0s to %s, got %s", FormatDuration(maxDrain), FormatDuration(x.Drain)))
	}
	if len(service)+slotSuffixLen > 63 {
		p.add("service", fmt.Sprintf("must be at most %d characters with strategy: zero-downtime (its slots are compose projects %s-a and %s-b)", 63-slotSuffixLen, service, service))
	}
}

// checkListen: an IP literal (or nothing: every address) and a port, as
// docker run -p takes it before the container port.
func checkListen(v string) string {
	addr, port, hasPort, problem := splitHostPort(v)
	if problem == "" && !hasPort {
		problem = "a port is required"
	}
	if problem == "" {
		if _, msg := parsePort(port); msg != "" {
			problem = "port " + msg
		}
	}
	if problem == "" && addr != "" {
		if _, err := netip.ParseAddr(addr); err != nil {
			problem = "the address must be an IP address"
		}
	}
	if problem != "" {
		return fmt.Sprintf(`must be ADDRESS:PORT like "0.0.0.0:80" or "127.0.0.1:8080" (%s), got %q`, problem, v)
	}
	return ""
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Gate is the health policy with the defaults of specs from before
// health.check filled in.
func (h Health) Gate() Health {
	if h.Check == "" {
		h.Check = CheckDocker
	}
	if h.HealthyRuns == 0 {
		h.HealthyRuns = DefaultHealthyRuns
	}
	return h
}

// ZeroDowntime says whether hosts move through the proxy's slots.
func (s *Spec) ZeroDowntime() bool { return s.Strategy == StrategyZeroDowntime && s.Proxy != nil }

// Check is the proxy block's own check, for activities that get one from
// a task queue anyone may write to.
func (x Proxy) Check(service string) error {
	var p problemList
	x.problems(&p, service, nil)
	if len(p) > 0 {
		return errors.New(p[0].Error())
	}
	return nil
}

// ListenLocal is where the proxy is reached from its own host: an
// unspecified listen address (every address) by loopback.
func ListenLocal(listen string) string {
	addr, port, _, _ := splitHostPort(listen)
	switch addr {
	case "", "0.0.0.0":
		addr = "127.0.0.1"
	case "::":
		addr = "::1"
	}
	return net.JoinHostPort(addr, port)
}
