package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hoist-dev/hoist/rollout"
)

// The keys each mapping of hoist.yml may hold.
var (
	topKeys      = []string{"service", "environment", "remote_base", "files", "services", "hosts", "ssh", "registry", "wait", "health", "keep_releases", "rollout", "windows", "notify", "hooks", "strategy", "proxy"}
	hostKeys     = []string{"address", "port", "user", "name"}
	sshKeys      = []string{"user", "port"}
	registryKeys = []string{"server"}
	waitKeys     = []string{"retries", "delay", "stable"}
	healthKeys   = []string{"unhealthy", "check", "healthy_runs", "unhealthy_runs"}
	rolloutKeys  = []string{"batches", "max_parallel", "preflight", "pause", "approve_after", "approval_timeout", "max_failed", "on_failure"}
)

// credentialKeys chose a registry credential before credentials moved to
// the worker; each is refused by name, saying where they live now.
var credentialKeys = []string{"type", "username", "password_env", "password", "region"}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseDocument parses data as exactly one YAML document whose top is a
// mapping, and refuses aliases anywhere in it.
func parseDocument(data []byte, file string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "is empty"}
		}
		return nil, yamlError(file, err)
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlError(file, err)
	default:
		return nil, &Error{File: file, Line: more.Line, Msg: "holds more than one YAML document; hoist.yml is one mapping"}
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	if root.Kind == 0 || isNull(root) {
		return nil, &Error{File: file, Msg: "is empty"}
	}
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: root.Line, Msg: "must be a mapping of settings (service: ..., hosts: ...), got " + describe(root)}
	}
	var errs []*Error
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode {
			errs = append(errs, &Error{File: file, Line: n.Line, Msg: "YAML aliases (*name) are not supported; write the value out"})
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
	if err := join(errs); err != nil {
		return nil, err
	}
	return root, nil
}

// yamlError turns the yaml package's "yaml: line N: msg" into FILE:N: invalid YAML: msg.
func yamlError(file string, err error) error {
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// decoder walks the YAML tree into a Spec, reporting wrong types, unknown
// and repeated keys as it goes, and remembering the line of every field so
// that later problems can cite it.
type decoder struct {
	file  string
	errs  []*Error
	lines map[string]int  // field → line of its key or list item
	given map[string]bool // fields present with a non-null value
	bad   map[string]bool // fields already reported; later problems about them are noise
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, lines: map[string]int{}, given: map[string]bool{}, bad: map[string]bool{}}
}

// fail reports a problem with field at node n, or at the field's line when
// n is nil.
func (d *decoder) fail(n *yaml.Node, field, format string, args ...any) {
	line := d.lineOf(field)
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	d.bad[field] = true
}

// lineOf is the line of field, or of its nearest ancestor with one.
func (d *decoder) lineOf(field string) int {
	for f := field; f != ""; f = parent(f) {
		if line, ok := d.lines[f]; ok {
			return line
		}
	}
	return 0
}

// suppressed says whether a problem with field repeats one already
// reported: about the field itself, an ancestor, or a part of it.
func (d *decoder) suppressed(field string) bool {
	for f := field; f != ""; f = parent(f) {
		if d.bad[f] {
			return true
		}
	}
	for f := range d.bad {
		if strings.HasPrefix(f, field+".") || strings.HasPrefix(f, field+"[") {
			return true
		}
	}
	return false
}

// parent of "hosts[1].port" is "hosts[1]", of "hosts[1]" is "hosts".
func parent(field string) string {
	if i := strings.LastIndexAny(field, ".["); i > 0 {
		return field[:i]
	}
	return ""
}

func child(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

// fields calls set for each key of mapping n (the value of field; "" for the
// top level) that is among known and has a non-null value. Unknown and
// repeated keys are reported.
func (d *decoder) fields(n *yaml.Node, field string, known []string, set func(key string, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, field, "must be a mapping, got %s", describe(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, field, "keys must be plain names, got %s", describe(k))
			continue
		}
		name := k.Value
		f := child(field, name)
		if !slices.Contains(known, name) {
			msg := fmt.Sprintf("unknown key %q", name)
			if s := suggest(name, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errs = append(d.errs, &Error{File: d.file, Line: k.Line, Field: field, Msg: msg})
			continue
		}
		if first, dup := seen[name]; dup {
			d.fail(k, f, "is set twice (first on line %d)", first)
			continue
		}
		seen[name] = k.Line
		d.lines[f] = k.Line
		if isNull(v) {
			continue
		}
		d.given[f] = true
		set(name, v)
	}
}

// spec decodes the top-level mapping. It returns the files value
// separately: checking it needs the file system.
func (d *decoder) spec(root *yaml.Node) (*Spec, string) {
	s := &Spec{}
	var files, sshUser string
	var sshPort int
	d.fields(root, "", topKeys, func(key string, v *yaml.Node) {
		switch key {
		case "service":
			s.Service, _ = d.str(v, key)
		case "environment":
			s.Environment, _ = d.str(v, key)
		case "remote_base":
			s.RemoteBase, _ = d.str(v, key)
		case "files":
			files, _ = d.str(v, key)
		case "services":
			s.Services = d.services(v)
		case "hosts":
			s.Hosts = d.hosts(v)
		case "ssh":
			sshUser, sshPort = d.ssh(v)
		case "registry":
			s.Registry = d.registry(v)
		case "wait":
			s.Wait = d.wait(v)
		case "health":
			d.health(v, &s.Health)
		case "keep_releases":
			s.KeepReleases, _ = d.integer(v, key)
		case "rollout":
			s.Rollout = d.rollout(v)
		case "windows":
			s.Windows = d.windows(v)
		case "notify":
			s.Notify = d.notify(v)
		case "hooks":
			s.Hooks = d.hooks(v)
		case "strategy":
			s.Strategy, _ = d.str(v, key)
		case "proxy":
			s.Proxy = d.proxy(v)
		}
	})
	for i := range s.Hosts {
		h := &s.Hosts[i]
		if h.User == "" {
			h.User = sshUser
		}
		if h.Port == 0 {
			h.Port = sshPort
		}
	}
	return s, files
}

// ssh decodes the defaults for hosts; invalid ones are reported here and
// not applied, so that they are not reported again for every host.
func (d *decoder) ssh(n *yaml.Node) (user string, port int) {
	d.fields(n, "ssh", sshKeys, func(k string, v *yaml.Node) {
		f := child("ssh", k)
		switch k {
		case "user":
			u, ok := d.str(v, f)
			if !ok {
				return
			}
			if msg := checkUser(u); msg != "" {
				d.fail(v, f, "%s", msg)
				return
			}
			user = u
		case "port":
			port = d.port(v, f)
		}
	})
	return user, port
}

func (d *decoder) registry(n *yaml.Node) Registry {
	var r Registry
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode && slices.Contains(credentialKeys, k.Value) {
				d.fail(k, "registry."+k.Value, "%s", workerCredentials)
			}
		}
	}
	d.fields(n, "registry", append(slices.Clip(registryKeys), credentialKeys...), func(k string, v *yaml.Node) {
		if k == "server" {
			r.Server, _ = d.str(v, "registry.server")
		}
	})
	return r
}

func (d *decoder) wait(n *yaml.Node) Wait {
	var w Wait
	d.fields(n, "wait", waitKeys, func(k string, v *yaml.Node) {
		f := child("wait", k)
		switch k {
		case "retries":
			w.Retries, _ = d.integer(v, f)
		case "delay":
			w.Delay = d.duration(v, f)
		case "stable":
			w.Stable = d.duration(v, f)
		}
	})
	return w
}

// rollout decodes the rollout block. Values of the right type are checked
// by Spec.problems, with the host count; what the decoder alone can tell
// (an explicit max_parallel: 0) is reported here.
func (d *decoder) rollout(n *yaml.Node) *Rollout {
	r := &Rollout{}
	d.fields(n, "rollout", rolloutKeys, func(k string, v *yaml.Node) {
		f := child("rollout", k)
		switch k {
		case "batches":
			r.Batches = d.sizes(v, f)
		case "max_parallel":
			if m, ok := d.integer(v, f); ok && m < 1 {
				d.fail(v, f, "must be at least 1, got %d (leave it out for the batch size)", m)
			} else {
				r.MaxParallel = m
			}
		case "preflight":
			r.Preflight, _ = d.boolean(v, f)
		case "pause":
			r.Pause = d.duration(v, f)
		case "approve_after":
			r.ApproveAfter = d.batchNumbers(v, f)
		case "approval_timeout":
			r.ApprovalTimeout = d.duration(v, f)
		case "max_failed":
			r.MaxFailed, _ = d.size(v, f)
		case "on_failure":
			r.OnFailure, _ = d.str(v, f)
		}
	})
	// Batch numbers are checked against the batches: with the batches
	// wrong, that check would only repeat the problem.
	if d.suppressed("rollout.batches") {
		d.bad["rollout.approve_after"] = true
	}
	return r
}

// sizes decodes a list of batch sizes.
func (d *decoder) sizes(n *yaml.Node, field string) []rollout.Size {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, field, `must be a list of batch sizes, like [1, "25%%", "100%%"]; got %s`, describe(n))
		return nil
	}
	out := make([]rollout.Size, len(n.Content))
	for i, item := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		d.lines[f] = item.Line
		out[i], _ = d.size(item, f)
	}
	return out
}

// size decodes a count (a YAML integer) or a percentage ("25%").
func (d *decoder) size(n *yaml.Node, field string) (rollout.Size, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		c, ok := d.integer(n, field)
		return rollout.Count(c), ok
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.fail(n, field, `must be a count of hosts or a percentage like "25%%", got %s`, describe(n))
		return rollout.Size{}, false
	}
	s, err := rollout.ParsePercent(n.Value)
	if err != nil {
		d.fail(n, field, "%v", err)
		return rollout.Size{}, false
	}
	return s, true
}

// batchNumbers decodes approve_after: batch numbers, 1 for the first.
// An empty list is none, like leaving the key out.
func (d *decoder) batchNumbers(n *yaml.Node, field string) []int {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, field, "must be a list of batch numbers (1 for the first batch), got %s", describe(n))
		return nil
	}
	var out []int
	for i, item := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		d.lines[f] = item.Line
		b, _ := d.integer(item, f)
		out = append(out, b)
	}
	return out
}

// boolean decodes true or false; "yes", "on" and quoted "true" are not
// booleans in hoist.yml.
func (d *decoder) boolean(n *yaml.Node, field string) (bool, bool) {
	var v bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		d.fail(n, field, "must be true or false, got %s", describe(n))
		return false, false
	}
	return v, true
}

func (d *decoder) applyDefaults(s *Spec) {
	if !d.given["environment"] {
		s.Environment = DefaultEnvironment
	}
	if !d.given["wait.retries"] {
		s.Wait.Retries = DefaultRetries
	}
	if !d.given["wait.delay"] {
		s.Wait.Delay = DefaultDelay
	}
	if !d.given["wait.stable"] {
		s.Wait.Stable = DefaultStable
	}
	if !d.given["health.unhealthy"] {
		s.Health.Unhealthy = HealthWarn
	}
	d.gateDefaults(s)
	if !d.given["keep_releases"] {
		s.KeepReleases = DefaultKeepReleases
	}
	if r := s.Rollout; r != nil {
		if !d.given["rollout.batches"] {
			r.Batches = []rollout.Size{rollout.Count(1)}
		}
		if !d.given["rollout.preflight"] {
			r.Preflight = true
		}
		if !d.given["rollout.approval_timeout"] {
			r.ApprovalTimeout = DefaultApprovalTimeout
		}
		if !d.given["rollout.on_failure"] {
			r.OnFailure = OnFailureRollback
		}
	}
	// A registry block means a login, so one without a server is reported
	// as such.
	s.Registry.Type = RegistryNone
	if d.given["registry"] {
		s.Registry.Type = RegistryLogin
	}
}

func (d *decoder) services(n *yaml.Node) []string {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, "services", "must be a list of compose service names, got %s", describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		d.fail(n, "services", "must name at least one service; leave the key out to check all of them")
		return nil
	}
	out := make([]string, len(n.Content))
	for i, item := range n.Content {
		f := fmt.Sprintf("services[%d]", i)
		d.lines[f] = item.Line
		out[i], _ = d.str(item, f)
	}
	return out
}

func (d *decoder) hosts(n *yaml.Node) []Host {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, "hosts", "must be a list of hosts, got %s", describe(n))
		return nil
	}
	out := make([]Host, len(n.Content))
	for i, item := range n.Content {
		f := fmt.Sprintf("hosts[%d]", i)
		d.lines[f] = item.Line
		switch item.Kind {
		case yaml.ScalarNode:
			if v, ok := d.str(item, f); ok {
				out[i] = d.hostString(item, f, v)
			}
		case yaml.MappingNode:
			out[i] = d.hostMapping(item, f)
		default:
			d.fail(item, f, `must be "[user@]host[:port]" or a mapping with address, port, user, name; got %s`, describe(item))
		}
	}
	return out
}

// hostString parses "[user@]host[:port]". When that fails, the whole
// host is marked as reported.
func (d *decoder) hostString(n *yaml.Node, field, v string) (h Host) {
	defer func() {
		if h == (Host{}) {
			d.bad[field] = true
		}
	}()
	rest := v
	if user, after, ok := strings.Cut(v, "@"); ok {
		if user == "" {
			d.fail(n, field+".user", "is empty in %q", v)
			return Host{}
		}
		h.User, rest = user, after
	}
	addr, port, hasPort, problem := splitHostPort(rest)
	if problem != "" {
		d.fail(n, field+".address", "%s in %q", problem, v)
		return Host{}
	}
	if hasPort {
		p, msg := parsePort(port)
		if msg != "" {
			d.fail(n, field+".port", "%s in %q", msg, v)
			return Host{}
		}
		h.Port = p
	}
	h.Address = normalizeAddress(addr)
	return h
}

func (d *decoder) hostMapping(n *yaml.Node, field string) Host {
	var h Host
	d.fields(n, field, hostKeys, func(k string, v *yaml.Node) {
		f := child(field, k)
		switch k {
		case "address":
			if a, ok := d.str(v, f); ok {
				if strings.HasPrefix(a, "[") && strings.HasSuffix(a, "]") && strings.Contains(a, ":") {
					a = a[1 : len(a)-1]
				}
				h.Address = normalizeAddress(a)
			}
		case "port":
			h.Port = d.port(v, f)
		case "user":
			h.User, _ = d.str(v, f)
		case "name":
			h.Name, _ = d.str(v, f)
		}
	})
	if !d.given[field+".address"] && !d.bad[field+".address"] {
		d.fail(n, field+".address", "is required")
	}
	return h
}

// normalizeAddress writes a valid IPv6 address in its canonical form and
// leaves everything else as it is, for checkAddress to judge.
func normalizeAddress(a string) string {
	if strings.Contains(a, ":") {
		if ip, err := netip.ParseAddr(a); err == nil && ip.Is6() && ip.Zone() == "" {
			return ip.String()
		}
	}
	return a
}

// str decodes a scalar as a string. Numbers and booleans are taken as
// written; lists, mappings, other tags and empty strings are refused.
func (d *decoder) str(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, field, "must be a string, got %s", describe(n))
		return "", false
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!bool":
	default:
		d.fail(n, field, "must be a string, got %s", describe(n))
		return "", false
	}
	if n.Value == "" {
		d.fail(n, field, "must not be empty")
		return "", false
	}
	return n.Value, true
}

// integer decodes a YAML integer; quoted numbers are strings, not integers.
func (d *decoder) integer(n *yaml.Node, field string) (int, bool) {
	var v int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		d.fail(n, field, "must be a whole number, got %s", describe(n))
		return 0, false
	}
	return v, true
}

// port decodes an explicit port, which must be 1..65535.
func (d *decoder) port(n *yaml.Node, field string) int {
	p, ok := d.integer(n, field)
	if !ok {
		return 0
	}
	if p < 1 || p > 65535 {
		d.fail(n, field, "must be from 1 to 65535, got %d", p)
		return 0
	}
	return p
}

func (d *decoder) duration(n *yaml.Node, field string) time.Duration {
	v, ok := d.str(n, field)
	if !ok {
		return 0
	}
	t, err := time.ParseDuration(v)
	if err != nil {
		d.fail(n, field, `must be a duration with a unit like "5s" or "1m30s", got %q`, v)
		return 0
	}
	return t
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's kind and value for "got ..." in messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return n.Value
		case "!!null":
			return "nothing"
		default:
			return fmt.Sprintf("%s %q", n.ShortTag(), n.Value)
		}
	}
	return "nothing"
}

// suggest returns the known key closest to name, if it is close enough to
// be a typo.
func suggest(name string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(name, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
