package config

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hoist-dev/hoist/rollout"
)

// Each check takes one value and returns what is wrong with it, or "" when
// nothing is. They know no file or line; Parse adds those.

var (
	serviceRe      = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	serviceNameRe  = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]*$`)
	userRe         = regexp.MustCompile(`^[a-z_][a-z0-9_.-]*$`)
	displayNameRe  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	envNameRe      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	regionRe       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	hostnameCharRe = regexp.MustCompile(`^[A-Za-z0-9.-]+$`)
)

const (
	maxService      = 63
	maxRemoteBase   = 4096
	maxServiceName  = 128
	maxUser         = 32
	maxHostDisplay  = 64
	maxHostname     = 253
	maxRegistryUser = 256
	maxEnvName      = 128
	maxRetries      = 1000
	maxDelay        = 10 * time.Minute
	maxKeepReleases = 100
	// A pause or an approval wait holds the deploy lock; past these the
	// value is a mistake, not a plan.
	MaxPause           = 24 * time.Hour
	maxApprovalTimeout = 7 * 24 * time.Hour
)

func checkService(v string) string {
	switch {
	case v == "":
		return "is required"
	case len(v) > maxService:
		return fmt.Sprintf("must be at most %d characters, got %d", maxService, len(v))
	case !serviceRe.MatchString(v):
		return fmt.Sprintf("must be lowercase letters, digits, '_' and '-', starting with a letter or digit, got %q", v)
	}
	return ""
}

func checkRemoteBase(v string) string {
	switch {
	case v == "":
		return "is required"
	case len(v) > maxRemoteBase:
		return fmt.Sprintf("must be at most %d bytes, got %d", maxRemoteBase, len(v))
	case !utf8.ValidString(v):
		return fmt.Sprintf("must be valid UTF-8, got %q", v)
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return fmt.Sprintf("must not contain control or invisible characters, got %q", v)
		}
	}
	switch {
	case !strings.HasPrefix(v, "/"):
		return fmt.Sprintf("must be an absolute path, got %q", v)
	case v == "/":
		return `must not be "/"`
	case slices.Contains(strings.Split(v, "/"), ".."):
		return fmt.Sprintf(`must not contain a ".." segment, got %q`, v)
	case path.Clean(v) != v:
		return fmt.Sprintf("must be a clean path, got %q (did you mean %q?)", v, path.Clean(v))
	}
	return ""
}

func checkServiceName(v string) string {
	switch {
	case v == "":
		return "must not be empty"
	case len(v) > maxServiceName:
		return fmt.Sprintf("must be at most %d characters, got %d", maxServiceName, len(v))
	case !serviceNameRe.MatchString(v):
		return fmt.Sprintf("must be letters, digits, '.', '_' and '-', starting with a letter or digit, got %q", v)
	}
	return ""
}

func checkUser(v string) string {
	switch {
	case v == "":
		return "must not be empty"
	case len(v) > maxUser:
		return fmt.Sprintf("must be at most %d characters, got %d", maxUser, len(v))
	case !userRe.MatchString(v):
		return fmt.Sprintf("must be a Unix user name (lowercase letters, digits, '_', '.', '-', not starting with a digit, '.' or '-'), got %q", v)
	}
	return ""
}

// checkPort allows 0, meaning "not set".
func checkPort(p int) string {
	if p < 0 || p > 65535 {
		return fmt.Sprintf("must be from 1 to 65535, got %d", p)
	}
	return ""
}

func checkHostDisplayName(v string) string {
	switch {
	case len(v) > maxHostDisplay:
		return fmt.Sprintf("must be at most %d characters, got %d", maxHostDisplay, len(v))
	case !displayNameRe.MatchString(v):
		return fmt.Sprintf("must be letters, digits, '.', '_' and '-', got %q", v)
	}
	return ""
}

// checkAddress accepts a hostname (or ~/.ssh/config alias) made of
// [A-Za-z0-9.-] in non-empty labels that do not start or end with '-', an
// IPv4 address, or an IPv6 address without brackets and without a zone.
func checkAddress(v string) string {
	if v == "" {
		return "is required"
	}
	bad := fmt.Sprintf("must be a hostname, IPv4 or IPv6 address, got %q", v)
	if strings.Contains(v, ":") {
		ip, err := netip.ParseAddr(v)
		switch {
		case err == nil && ip.Zone() != "":
			return fmt.Sprintf("must be an IPv6 address without a zone, got %q", v)
		case err != nil || !ip.Is6():
			return bad + " (an IPv6 address with a port is written [address]:port)"
		}
		if ip.IsUnspecified() {
			return fmt.Sprintf("must not be the unspecified address, got %q", v)
		}
		return ""
	}
	if len(v) > maxHostname {
		return fmt.Sprintf("must be at most %d characters, got %d", maxHostname, len(v))
	}
	if !hostnameCharRe.MatchString(v) {
		return bad
	}
	numeric := true
	for _, label := range strings.Split(v, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return bad
		}
		if strings.Trim(label, "0123456789") != "" {
			numeric = false
		}
	}
	if numeric {
		ip, err := netip.ParseAddr(v)
		if err != nil || !ip.Is4() {
			return fmt.Sprintf("must be a valid IPv4 address, got %q", v)
		}
		if ip.IsUnspecified() {
			return fmt.Sprintf("must not be the unspecified address, got %q", v)
		}
	}
	return ""
}

// canonicalAddress is the form two addresses are compared in: IPv6 in its
// shortest form, names in lower case.
func canonicalAddress(v string) string {
	if ip, err := netip.ParseAddr(v); err == nil {
		return ip.String()
	}
	return strings.ToLower(v)
}

// checkServer accepts a registry "host[:port]" as docker login takes it.
func checkServer(v string) string {
	if v == "" {
		return "is required"
	}
	if strings.Contains(v, "/") {
		return fmt.Sprintf(`must be a registry host[:port] without a scheme or path, got %q`, v)
	}
	addr, port, hasPort, problem := splitHostPort(v)
	if problem != "" {
		return fmt.Sprintf("must be a registry host[:port], got %q: %s", v, problem)
	}
	if msg := checkAddress(addr); msg != "" {
		return fmt.Sprintf("must be a registry host[:port], got %q", v)
	}
	if hasPort {
		if _, msg := parsePort(port); msg != "" {
			return fmt.Sprintf("must be a registry host[:port], got %q: port %s", v, msg)
		}
	}
	return ""
}

func checkRegistryUser(v string) string {
	switch {
	case v == "":
		return "is required"
	case len(v) > maxRegistryUser:
		return fmt.Sprintf("must be at most %d characters, got %d", maxRegistryUser, len(v))
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7f {
			return fmt.Sprintf("must be printable ASCII without spaces, got %q", v)
		}
	}
	return ""
}

func checkEnvName(v string) string {
	switch {
	case v == "":
		return "is required"
	case len(v) > maxEnvName:
		return fmt.Sprintf("must be at most %d characters, got %d", maxEnvName, len(v))
	case !envNameRe.MatchString(v):
		return fmt.Sprintf("must be the name of an environment variable ([A-Za-z_][A-Za-z0-9_]*), got %q", v)
	}
	return ""
}

func checkRegion(v string) string {
	switch {
	case v == "":
		return "is required"
	case len(v) > 32 || !regionRe.MatchString(v):
		return fmt.Sprintf("must be an AWS region like us-west-2, got %q", v)
	}
	return ""
}

func checkRetries(n int) string {
	if n < 1 || n > maxRetries {
		return fmt.Sprintf("must be from 1 to %d, got %d", maxRetries, n)
	}
	return ""
}

func checkDelay(d time.Duration) string {
	if d <= 0 || d > maxDelay {
		return fmt.Sprintf("must be more than 0 and at most %s, got %s", FormatDuration(maxDelay), FormatDuration(d))
	}
	return ""
}

func checkStable(w Wait) string {
	window := time.Duration(w.Retries) * w.Delay
	if w.Stable < 0 || (w.Retries > 0 && w.Delay > 0 && w.Stable >= window) {
		return fmt.Sprintf("must be at least 0 and shorter than the window retries × delay (%s), got %s", FormatDuration(window), FormatDuration(w.Stable))
	}
	return ""
}

func checkUnhealthy(v string) string {
	if v != HealthWarn && v != HealthRollback {
		return fmt.Sprintf("must be %s or %s, got %q", HealthWarn, HealthRollback, v)
	}
	return ""
}

func checkKeepReleases(n int) string {
	if n < 1 || n > maxKeepReleases {
		return fmt.Sprintf("must be from 1 to %d, got %d", maxKeepReleases, n)
	}
	return ""
}

// problems of a rollout block over a fleet of hosts hosts. Batch numbers
// in approve_after depend on the host count: with hosts unknown (0) they
// are not checked against it.
func (r *Rollout) problems(p *problemList, hosts int) {
	if len(r.Batches) == 0 {
		p.add("rollout.batches", `must list at least one batch size, like [1, "25%", "100%"]`)
	}
	batchesOK := len(r.Batches) > 0
	for i, s := range r.Batches {
		if msg := checkBatchSize(s); msg != "" {
			p.add(fmt.Sprintf("rollout.batches[%d]", i), msg)
			batchesOK = false
		}
	}
	if r.MaxParallel < 0 {
		p.add("rollout.max_parallel", fmt.Sprintf("must be at least 1, got %d", r.MaxParallel))
	}
	if r.Pause < 0 || r.Pause > MaxPause {
		p.add("rollout.pause", fmt.Sprintf("must be from 0 to %s, got %s", FormatDuration(MaxPause), FormatDuration(r.Pause)))
	}
	if r.ApprovalTimeout <= 0 || r.ApprovalTimeout > maxApprovalTimeout {
		p.add("rollout.approval_timeout", fmt.Sprintf("must be more than 0 and at most %s, got %s", FormatDuration(maxApprovalTimeout), FormatDuration(r.ApprovalTimeout)))
	}
	batches := 0
	if batchesOK && hosts > 0 {
		batches = len(rollout.Counts(hosts, r.Batches))
	}
	seen := map[int]int{}
	for i, b := range r.ApproveAfter {
		field := fmt.Sprintf("rollout.approve_after[%d]", i)
		switch j, dup := seen[b]; {
		case b < 1:
			p.add(field, fmt.Sprintf("must be a batch number from 1, got %d", b))
		case dup:
			p.add(field, fmt.Sprintf("batch %d is listed twice (also approve_after[%d])", b, j))
		case batches > 0 && b > batches:
			p.add(field, fmt.Sprintf("batch %d does not exist: %d host(s) in batches %s make %d batch(es)", b, hosts, SizesText(r.Batches), batches))
		}
		if _, dup := seen[b]; !dup {
			seen[b] = i
		}
	}
	if m := r.MaxFailed; m.N < 0 || (m.Percent && m.N > 100) {
		p.add("rollout.max_failed", fmt.Sprintf(`must be a count of hosts from 0 or a percentage from 0%% to 100%%, got %s`, m))
	}
	if r.OnFailure != OnFailureRollback && r.OnFailure != OnFailureHalt {
		p.add("rollout.on_failure", fmt.Sprintf("must be %s or %s, got %q", OnFailureRollback, OnFailureHalt, r.OnFailure))
	}
}

// checkBatchSize: a batch takes at least one host.
func checkBatchSize(s rollout.Size) string {
	switch {
	case s.Percent && (s.N < 1 || s.N > 100):
		return fmt.Sprintf("must be a percentage from 1%% to 100%%, got %s", s)
	case !s.Percent && s.N < 1:
		return fmt.Sprintf(`must be a count of hosts from 1 or a percentage like "25%%", got %s`, s)
	}
	return ""
}

// SizesText writes batch sizes as hoist.yml does, [1, "25%"], for
// messages and plans.
func SizesText(sizes []rollout.Size) string {
	parts := make([]string, len(sizes))
	for i, s := range sizes {
		parts[i] = s.String()
		if s.Percent {
			parts[i] = strconv.Quote(parts[i])
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func checkComposeFile(v string) string {
	if !slices.Contains(composeFiles, v) {
		return fmt.Sprintf("must be one of %s, got %q", strings.Join(composeFiles, ", "), v)
	}
	return ""
}

// FormatDuration prints 4h and 10m rather than 4h0m0s and 10m0s, as
// hoist.yml would say them.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// splitHostPort splits "host", "host:port", "[v6]", "[v6]:port" and a bare
// IPv6 address (no port). It checks only the shape; the parts are checked
// by checkAddress and parsePort. hasPort is true when a ':' announced a
// port, even an empty one.
func splitHostPort(s string) (addr, port string, hasPort bool, problem string) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", false, `"[" without "]"`
		}
		addr, rest := s[1:end], s[end+1:]
		if !strings.Contains(addr, ":") {
			return "", "", false, "only IPv6 addresses go in brackets"
		}
		switch {
		case rest == "":
			return addr, "", false, ""
		case strings.HasPrefix(rest, ":"):
			return addr, rest[1:], true, ""
		default:
			return "", "", false, fmt.Sprintf("unexpected %q after \"]\"", rest)
		}
	}
	if strings.Count(s, ":") == 1 {
		addr, port, _ := strings.Cut(s, ":")
		return addr, port, true, ""
	}
	return s, "", false, "" // no port, or a bare IPv6 address; checkAddress decides
}

// parsePort parses a decimal port 1..65535.
func parsePort(s string) (int, string) {
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Sprintf("must be a number from 1 to 65535, got %q", s)
	}
	p, _ := strconv.Atoi(s)
	if p < 1 || p > 65535 {
		return 0, fmt.Sprintf("must be from 1 to 65535, got %d", p)
	}
	return p, ""
}

// The worker's registry credentials file (package registrycreds) names
// servers, users and regions too; it applies the same rules through these,
// so a server is judged alike wherever it is written.

// CheckRegistryServer is what is wrong with a registry host[:port], or "".
func CheckRegistryServer(v string) string { return checkServer(v) }

// CheckRegistryUser is what is wrong with a registry user name, or "".
func CheckRegistryUser(v string) string { return checkRegistryUser(v) }

// CheckRegion is what is wrong with an AWS region name, or "".
func CheckRegion(v string) string { return checkRegion(v) }

// CheckEnvName is what is wrong with an environment variable name, or "".
func CheckEnvName(v string) string { return checkEnvName(v) }

// CheckServiceName checks a compose service name (a hook's, say).
func CheckServiceName(v string) string { return checkServiceName(v) }
