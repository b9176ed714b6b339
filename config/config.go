// Package config loads and validates hoist.yml, names release versions and
// packs the release folder into the bundle that is shipped to every host.
//
// Everything here runs before any host is touched, and is strict: the
// values end up in remote command lines (quoted, but still).
package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/rollout"
	"github.com/hoist-dev/hoist/window"
)

// Values of Registry.Type.
const (
	RegistryNone  = "none"  // no registry login
	RegistryLogin = "login" // log in to Registry.Server with the worker's credential for it
)

// Values of health.unhealthy.
const (
	HealthWarn     = "warn"
	HealthRollback = "rollback"
)

// Defaults for what hoist.yml leaves out.
const (
	DefaultRetries      = 6
	DefaultDelay        = 5 * time.Second
	DefaultStable       = time.Second
	DefaultKeepReleases = 3
)

// maxConfigBytes caps the size of hoist.yml that Load reads.
const maxConfigBytes = 1 << 20

// composeFiles are the names the files folder may hold its compose file
// under, in the order docker compose prefers them.
var composeFiles = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// Spec is a validated hoist.yml with defaults applied. It travels as the
// input of the deploy workflow, so it holds no secrets and names none: the
// registry is named by its server only, and the worker alone decides which
// credential, if any, goes there.
type Spec struct {
	Service      string   `json:"service"`
	Environment  string   `json:"environment,omitempty"` // see EnvironmentName
	RemoteBase   string   `json:"remote_base"`
	FilesDir     string   `json:"-"` // absolute local path; the bundle carries the files
	ComposeFile  string   `json:"compose_file"`
	Services     []string `json:"services,omitempty"` // empty: every service of the project
	Hosts        []Host   `json:"hosts"`
	Registry     Registry `json:"registry"`
	Wait         Wait     `json:"wait"`
	Health       Health   `json:"health"`
	KeepReleases int      `json:"keep_releases"`
	// Rollout is hoist.yml's rollout block; nil without one: hosts go one
	// at a time in config order, as they always have.
	Rollout *Rollout `json:"rollout,omitempty"`
	// Windows: when deploys may start and batches proceed; nil: always.
	Windows *window.Spec `json:"windows,omitempty"`
	// Notify: which of the worker's notifiers hear of which events.
	Notify []NotifyRule `json:"notify,omitempty"`
	// Hooks: one-off compose services run around the release.
	Hooks *Hooks `json:"hooks,omitempty"`
	// Strategy: StrategyRecreate or StrategyZeroDowntime ("" in specs
	// from before: recreate).
	Strategy string `json:"strategy,omitempty"`
	// Proxy: the proxy in front of the slots, with zero-downtime only.
	Proxy *Proxy `json:"proxy,omitempty"`
}

// Host is one deploy target after the ssh: defaults were applied. Empty
// User and zero Port mean "not set": ssh and ~/.ssh/config decide.
type Host struct {
	Name    string `json:"name,omitempty"` // display name
	Address string `json:"address"`        // hostname, ~/.ssh/config alias, IPv4, or IPv6 without brackets
	User    string `json:"user,omitempty"`
	Port    int    `json:"port,omitempty"`
}

// Target is what the SSH layer dials: [user@]address[:port] with only the
// parts that are set, an IPv6 address in brackets when a port follows. A
// bare alias stays bare, so ~/.ssh/config applies to it.
func (h Host) Target() string {
	t := h.Address
	if h.Port != 0 {
		if strings.Contains(t, ":") {
			t = "[" + t + "]"
		}
		t += ":" + strconv.Itoa(h.Port)
	}
	if h.User != "" {
		t = h.User + "@" + t
	}
	return t
}

// String is the host as shown to people: its name if it has one, else its
// target.
func (h Host) String() string {
	if h.Name != "" {
		return h.Name
	}
	return h.Target()
}

// key identifies a host for duplicate detection: user@address:port with
// the address in canonical form.
func (h Host) key() string {
	return h.User + "@" + canonicalAddress(h.Address) + ":" + strconv.Itoa(h.Port)
}

// Registry names the image registry the hosts log in to before pulling,
// and nothing more. The credential for Server is configured on the worker
// (hoist worker --registry-credentials); a spec can neither carry one nor
// choose which of the worker's secrets is sent where, and a worker that
// holds no credential for Server refuses the deploy before any host is
// touched.
type Registry struct {
	// Type is derived by Parse, never written in hoist.yml: RegistryLogin
	// when a server is named, else RegistryNone. The workflow decides on
	// it whether to log in.
	Type   string `json:"type"`
	Server string `json:"server,omitempty"` // host[:port] as docker login takes it

	// Region, Username and PasswordEnv are what specs carried before
	// credentials moved to the worker. Nothing reads them: they remain so
	// such a spec decodes and Validate can refuse it by name.
	Region      string `json:"region,omitempty"`
	Username    string `json:"username,omitempty"`
	PasswordEnv string `json:"password_env,omitempty"`
}

// LogsIn says whether hosts log in to a registry before pulling.
func (r Registry) LogsIn() bool { return r.Server != "" || (r.Type != "" && r.Type != RegistryNone) }

// Wait is the running-check window: up to Retries checks, Delay apart.
// State is polled far more often; success needs every checked container
// running (healthy, where it has a healthcheck) for Stable in a row, so a
// container that crashes a moment after it starts is not taken for a
// success.
type Wait struct {
	Retries int           `json:"retries"`
	Delay   time.Duration `json:"delay"`
	Stable  time.Duration `json:"stable"`
}

// Health says what an unhealthy service after the deploy leads to.
type Health struct {
	Unhealthy string `json:"unhealthy"` // HealthWarn or HealthRollback
	// Check is what proves a container healthy: CheckDocker, CheckHTTP
	// (with HTTP) or CheckNone. Specs from before health.check have ""
	// here, which means CheckDocker.
	Check string     `json:"check,omitempty"`
	HTTP  *HTTPCheck `json:"http,omitempty"`
	// HealthyRuns consecutive passes make a container healthy (0 in
	// specs from before: DefaultHealthyRuns).
	HealthyRuns int `json:"healthy_runs,omitempty"`
	// UnhealthyRuns consecutive failures past the container's start
	// period make it unhealthy at once; 0: the healthcheck's own retries
	// (DefaultUnhealthyRuns without one).
	UnhealthyRuns int `json:"unhealthy_runs,omitempty"`
}

// Values of rollout.on_failure.
const (
	OnFailureRollback = "rollback" // every host the deploy changed returns to its previous release
	OnFailureHalt     = "halt"     // stop; hosts already done keep the new release
)

// Defaults for what a rollout block leaves out.
const DefaultApprovalTimeout = 4 * time.Hour

// Rollout is how a deploy moves through the fleet (hoist.yml's rollout
// block, defaults applied). The batch arithmetic is package rollout's.
type Rollout struct {
	Batches         []rollout.Size `json:"batches"`                // sizes of successive batches; the last repeats. Default [1]
	MaxParallel     int            `json:"max_parallel,omitempty"` // hosts changed at once in a batch; 0: the batch size
	Preflight       bool           `json:"preflight"`              // sync, login and pull on every host before any switch. Default true
	Pause           time.Duration  `json:"pause,omitempty"`        // watch each batch's hosts this long after it
	ApproveAfter    []int          `json:"approve_after,omitempty"`
	ApprovalTimeout time.Duration  `json:"approval_timeout"`
	MaxFailed       rollout.Size   `json:"max_failed"` // hosts that may fail in the whole rollout; a percentage rounds down
	OnFailure       string         `json:"on_failure"` // OnFailureRollback or OnFailureHalt
}

// Load reads the config file at path and parses it; `files` is resolved
// relative to the file's folder.
func Load(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read: " + pathErrorText(err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read: " + pathErrorText(err)}
	}
	if len(data) > maxConfigBytes {
		return nil, &Error{File: path, Msg: fmt.Sprintf("is larger than the %d-byte limit", maxConfigBytes)}
	}
	return Parse(data, path, filepath.Dir(path))
}

// Parse decodes data strictly, applies defaults and validates the result.
// file names the config in error messages; baseDir is the folder `files`
// is relative to. All problems are reported together, each as an *Error.
func Parse(data []byte, file string, baseDir string) (spec *Spec, err error) {
	defer func() {
		// yaml.v3 is not supposed to panic; if it does on some input, that
		// input is still just a bad config.
		if r := recover(); r != nil {
			spec, err = nil, &Error{File: file, Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	root, err := parseDocument(data, file)
	if err != nil {
		return nil, err
	}
	d := newDecoder(file)
	s, files := d.spec(root)
	if files != "" {
		d.checkFiles(s, files, baseDir)
	} else if !d.bad["files"] {
		d.fail(nil, "files", "is required: the local folder with the compose file")
	}
	if d.bad["files"] {
		d.bad["compose_file"] = true
	}
	d.applyDefaults(s)
	for _, p := range s.problems() {
		if d.suppressed(p.Field) {
			continue
		}
		p.File, p.Line = file, d.lineOf(p.Field)
		d.errs = append(d.errs, p)
	}
	if err := join(d.errs); err != nil {
		return nil, err
	}
	return s, nil
}

// Validate checks a Spec that did not come from Parse, such as one decoded
// from a workflow input. It checks every value but not the local files
// folder, which only the machine that ran Parse has.
func (s *Spec) Validate() error {
	return join(s.problems())
}

// problems lists what is wrong with the values of s, by field, without
// file or line.
func (s *Spec) problems() []*Error {
	var p problemList
	p.add("service", checkService(s.Service))
	p.add("environment", checkEnvironment(s.Environment))
	p.add("remote_base", checkRemoteBase(s.RemoteBase))
	p.add("compose_file", checkComposeFile(s.ComposeFile))

	services := map[string]int{}
	for i, name := range s.Services {
		field := fmt.Sprintf("services[%d]", i)
		if msg := checkServiceName(name); msg != "" {
			p.add(field, msg)
			continue
		}
		if j, dup := services[name]; dup {
			p.add(field, fmt.Sprintf("%q is listed twice (also services[%d])", name, j))
			continue
		}
		services[name] = i
	}

	if len(s.Hosts) == 0 {
		p.add("hosts", "must list at least one host")
	}
	targets, names := map[string]int{}, map[string]int{}
	for i, h := range s.Hosts {
		field := fmt.Sprintf("hosts[%d]", i)
		before := len(p)
		p.add(field+".address", checkAddress(h.Address))
		if h.User != "" {
			p.add(field+".user", checkUser(h.User))
		}
		p.add(field+".port", checkPort(h.Port))
		if h.Name != "" {
			p.add(field+".name", checkHostDisplayName(h.Name))
		}
		if len(p) > before {
			continue
		}
		if j, dup := targets[h.key()]; dup {
			p.add(field, fmt.Sprintf("%s is listed twice (also hosts[%d])", h.Target(), j))
		} else {
			targets[h.key()] = i
		}
		if h.Name == "" {
			continue
		}
		if j, dup := names[h.Name]; dup {
			p.add(field+".name", fmt.Sprintf("%q is used twice (also hosts[%d])", h.Name, j))
		} else {
			names[h.Name] = i
		}
	}

	s.Registry.problems(&p)
	p.add("wait.retries", checkRetries(s.Wait.Retries))
	p.add("wait.delay", checkDelay(s.Wait.Delay))
	p.add("wait.stable", checkStable(s.Wait))
	p.add("health.unhealthy", checkUnhealthy(s.Health.Unhealthy))
	s.gateProblems(&p)
	p.add("keep_releases", checkKeepReleases(s.KeepReleases))
	if s.Rollout != nil {
		s.Rollout.problems(&p, len(s.Hosts))
	}
	s.aroundProblems(&p)
	return p
}

func (r Registry) problems(p *problemList) {
	for _, f := range []struct{ name, value string }{
		{"region", r.Region}, {"username", r.Username}, {"password_env", r.PasswordEnv},
	} {
		if f.value != "" {
			p.add("registry."+f.name, workerCredentials)
		}
	}
	switch r.Type {
	case "", RegistryNone:
		if r.Server != "" {
			p.add("registry.type", fmt.Sprintf("must be %s when registry.server is set, got %q", RegistryLogin, r.Type))
		}
	case RegistryLogin:
		p.add("registry.server", checkServer(r.Server))
	default:
		p.add("registry.type", fmt.Sprintf("must be %s or %s, got %q: %s", RegistryNone, RegistryLogin, r.Type, workerCredentials))
	}
}

// workerCredentials is what a spec that tries to choose a registry
// credential is told.
const workerCredentials = "is no longer part of the deploy spec: registry credentials now live on the worker " +
	"(hoist worker --registry-credentials FILE), and hoist.yml names only the server, as registry: {server: HOST[:PORT]}; " +
	"leave registry out when the images need no login"

type problemList []*Error

func (p *problemList) add(field, msg string) {
	if msg != "" {
		*p = append(*p, &Error{Field: field, Msg: msg})
	}
}

// checkFiles resolves the files folder and finds its compose file.
func (d *decoder) checkFiles(s *Spec, files, baseDir string) {
	dir := files
	if !filepath.IsAbs(dir) {
		if baseDir == "" {
			baseDir = "."
		}
		dir = filepath.Join(baseDir, dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		d.fail(nil, "files", "cannot resolve %q: %v", files, err)
		return
	}
	shown := strconv.Quote(files)
	if abs != files {
		resolved := abs
		if q := strconv.Quote(abs); q != `"`+abs+`"` {
			resolved = q
		}
		shown += " (" + resolved + ")"
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.fail(nil, "files", "folder %s does not exist", shown)
		return
	case err != nil:
		d.fail(nil, "files", "cannot read folder %s: %s", shown, pathErrorText(err))
		return
	case !fi.IsDir():
		d.fail(nil, "files", "%s is not a folder", shown)
		return
	}
	var found []string
	for _, name := range composeFiles {
		fi, err := os.Lstat(filepath.Join(abs, name))
		if err != nil {
			continue
		}
		if !fi.Mode().IsRegular() {
			d.fail(nil, "files", "%s in folder %s must be a regular file", name, shown)
			return
		}
		found = append(found, name)
	}
	switch len(found) {
	case 0:
		d.fail(nil, "files", "folder %s holds no compose file (%s)", shown, strings.Join(composeFiles, ", "))
		return
	case 1:
	default:
		d.fail(nil, "files", "folder %s holds more than one compose file (%s); keep one", shown, strings.Join(found, ", "))
		return
	}
	s.FilesDir, s.ComposeFile = abs, found[0]
}

// pathErrorText drops the operation and path an *fs.PathError repeats.
func pathErrorText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
