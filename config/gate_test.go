package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseGate(t *testing.T) {
	dir := fixture(t)
	cases := []struct {
		name, yaml string
		health     Health
		strategy   string
		proxy      *Proxy
	}{
		{"defaults", base, Health{Unhealthy: HealthWarn, Check: CheckDocker, HealthyRuns: 2}, StrategyRecreate, nil},
		{"none", base + "health: {check: none}\n", Health{Unhealthy: HealthWarn, Check: CheckNone, HealthyRuns: 2}, StrategyRecreate, nil},
		{"http with defaults", base + "health:\n  check: {http: {port: 8080}}\n  unhealthy: rollback\n",
			Health{Unhealthy: HealthRollback, Check: CheckHTTP, HTTP: &HTTPCheck{Path: "/", Port: 8080, Expect: 200}, HealthyRuns: 2}, StrategyRecreate, nil},
		{"the issue's http check and runs", base + "health:\n  check:\n    http: {path: /up, port: 8080, expect: 204}\n  healthy_runs: 3\n  unhealthy_runs: 4\n",
			Health{Unhealthy: HealthWarn, Check: CheckHTTP, HTTP: &HTTPCheck{Path: "/up", Port: 8080, Expect: 204}, HealthyRuns: 3, UnhealthyRuns: 4}, StrategyRecreate, nil},
		{"zero-downtime with defaults", base + "strategy: zero-downtime\nproxy: {service: web, port: 8080}\n",
			Health{Unhealthy: HealthWarn, Check: CheckDocker, HealthyRuns: 2}, StrategyZeroDowntime,
			&Proxy{Service: "web", Port: 8080, Listen: "0.0.0.0:80", Image: "caddy:2.11.9", Drain: 10 * time.Second}},
		{"the issue's proxy block", base + "strategy: zero-downtime\nproxy:\n  service: web\n  port: 8080\n  listen: \"127.0.0.1:18400\"\n  image: 10.77.0.1:5000/caddy:2.11.9\n  drain: 2s\n",
			Health{Unhealthy: HealthWarn, Check: CheckDocker, HealthyRuns: 2}, StrategyZeroDowntime,
			&Proxy{Service: "web", Port: 8080, Listen: "127.0.0.1:18400", Image: "10.77.0.1:5000/caddy:2.11.9", Drain: 2 * time.Second}},
		{"no drain", base + "strategy: zero-downtime\nproxy: {service: web, port: 8080, drain: 0s, listen: '[::]:80'}\n",
			Health{Unhealthy: HealthWarn, Check: CheckDocker, HealthyRuns: 2}, StrategyZeroDowntime,
			&Proxy{Service: "web", Port: 8080, Listen: "[::]:80", Image: "caddy:2.11.9"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse([]byte(c.yaml), "hoist.yml", dir)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s.Health, c.health) || s.Strategy != c.strategy || !reflect.DeepEqual(s.Proxy, c.proxy) {
				t.Fatalf("got %+v %q %+v, want %+v %q %+v", s.Health, s.Strategy, s.Proxy, c.health, c.strategy, c.proxy)
			}
			if s.ZeroDowntime() != (c.strategy == StrategyZeroDowntime) {
				t.Errorf("ZeroDowntime() = %v", s.ZeroDowntime())
			}
		})
	}
}

func TestParseGateRefused(t *testing.T) {
	dir := fixture(t)
	zd := base + "strategy: zero-downtime\n"
	cases := []struct{ name, yaml, want string }{
		{"unknown check", base + "health: {check: curl}\n", `health.check: must be docker, none or {http: {path: /up, port: 8080}}, got "curl"`},
		{"bare http", base + "health: {check: http}\n", "health.check: http needs its port"},
		{"http without port", base + "health: {check: {http: {path: /up}}}\n", "health.check.http.port: is required"},
		{"http bad path", base + "health: {check: {http: {path: 'up now', port: 80}}}\n", "health.check.http.path: must be a path starting with /"},
		{"http expect 42", base + "health: {check: {http: {port: 80, expect: 42}}}\n", "health.check.http.expect: must be an HTTP status"},
		{"http unknown key", base + "health: {check: {http: {port: 80, host: x}}}\n", `health.check.http: unknown key "host"`},
		{"check list", base + "health: {check: [docker]}\n", "health.check: must be docker, none or"},
		{"healthy_runs 0", base + "health: {healthy_runs: 0}\n", "health.healthy_runs: must be from 1 to 100, got 0"},
		{"unhealthy_runs 0", base + "health: {unhealthy_runs: 0}\n", "health.unhealthy_runs"},
		{"unknown strategy", base + "strategy: blue-green\n", `strategy: must be recreate or zero-downtime, got "blue-green"`},
		{"zero-downtime without proxy", zd, "proxy: is required with strategy: zero-downtime"},
		{"proxy without zero-downtime", base + "proxy: {service: web, port: 80}\n", "proxy: is only used with strategy: zero-downtime"},
		{"proxy without service", zd + "proxy: {port: 80}\n", "proxy.service: is required"},
		{"proxy without port", zd + "proxy: {service: web}\n", "proxy.port: is required"},
		{"proxy service not checked", zd + "services: [worker]\nproxy: {service: web, port: 80}\n", `proxy.service: "web" is not among services: worker`},
		{"proxy listen without port", zd + "proxy: {service: web, port: 80, listen: 0.0.0.0}\n", "proxy.listen: must be ADDRESS:PORT"},
		{"proxy listen hostname", zd + "proxy: {service: web, port: 80, listen: 'localhost:80'}\n", "the address must be an IP address"},
		{"proxy image with a space", zd + "proxy: {service: web, port: 80, image: 'caddy latest'}\n", "proxy.image: must be an image reference"},
		{"proxy image option", zd + "proxy: {service: web, port: 80, image: '--privileged'}\n", "proxy.image: must be an image reference"},
		{"proxy drain negative", zd + "proxy: {service: web, port: 80, drain: -1s}\n", "proxy.drain: must be from 0s"},
		{"service too long for slots", "service: " + strings.Repeat("a", 62) + "\nremote_base: /srv/app\nfiles: ./dist\nhosts: [h]\nstrategy: zero-downtime\nproxy: {service: web, port: 80}\n", "must be at most 61 characters with strategy: zero-downtime"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), "hoist.yml", dir)
			var ce *Error
			if err == nil || !errors.As(err, &ce) {
				t.Fatalf("accepted or not a config error: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// Specs recorded before health.check and strategy validate, and mean
// what they meant.
func TestGateOfOlderSpec(t *testing.T) {
	h := Health{Unhealthy: HealthWarn}.Gate()
	if h.Check != CheckDocker || h.HealthyRuns != DefaultHealthyRuns {
		t.Fatalf("Gate() = %+v", h)
	}
	s := &Spec{Strategy: ""}
	if s.ZeroDowntime() {
		t.Fatal("an older spec is not zero-downtime")
	}
}
