package commands

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/hoist-dev/hoist/remote"
)

// Zero-downtime deploys (strategy: zero-downtime) run a service as two
// compose projects, its slots SERVICE-a and SERVICE-b, behind one proxy
// container per service and host. The proxy reads which slot serves from
// a file on every request; hoist switches traffic by renaming a new file
// over it. Everything here is named from the service alone, so a worker
// that lost its history finds all of it again on the host.

// The two slots.
const (
	SlotA = "a"
	SlotB = "b"
)

// Names of the zero-downtime entries under remote_base.
const (
	// ProxyDirName holds the proxy's config, the slots' override file and
	// the upstream folder; bind-mounted into the proxy. A dot-name: never
	// taken for a release.
	ProxyDirName = ".proxy"
	// UpstreamDir is the folder inside ProxyDirName the proxy's dial file
	// lives in. The folder is what is mounted: a rename replaces the
	// file's inode, and a single-file bind mount would keep the old one.
	UpstreamDir = "upstream"
	// UpstreamFile holds host:port of the container that serves.
	UpstreamFile = "dial"
	// ProxyConfigFile is the proxy's Caddy JSON config.
	ProxyConfigFile = "caddy.json"
	// SlotOverrideFile is the compose override every slot runs with.
	SlotOverrideFile = "slot-override.yaml"
	// ProxyMount is where the proxy container sees ProxyDirName.
	ProxyMount = "/etc/hoist-proxy"
	// ProxyLabel on the proxy container is the digest of what it was
	// started with (config, image, listen): another digest is restarted.
	ProxyLabel = "org.hoist.proxy"
)

// Other is the slot that is not s ("" and b: a).
func OtherSlot(s string) string {
	if s == SlotA {
		return SlotB
	}
	return SlotA
}

// CheckSlot refuses anything but a slot name.
func CheckSlot(s string) error {
	if s != SlotA && s != SlotB {
		return fmt.Errorf("slot %q is not %s or %s", s, SlotA, SlotB)
	}
	return nil
}

// SlotProject is the compose project of one slot of service.
func SlotProject(service, slot string) string { return service + "-" + slot }

// ProxyContainer is the name of the service's proxy container.
func ProxyContainer(service string) string { return "hoist-proxy-" + service }

// ProxyNetwork is the Docker network the proxy and both slots share.
func ProxyNetwork(service string) string { return "hoist-" + service }

// SlotDial is what the proxy dials for a slot: the one container compose
// names PROJECT-SERVICE-1, by name on the shared network. Never the
// compose service's alias, which answers for both slots at once.
func SlotDial(service, slot, proxyService string, port int) string {
	return SlotProject(service, slot) + "-" + proxyService + "-1:" + strconv.Itoa(port)
}

// ProxyDir is the zero-downtime folder of the service on the host.
func (l Layout) ProxyDir() string { return path.Join(l.Base, ProxyDirName) }

// SlotOverride is the compose override each slot runs with: the proxied
// service publishes no ports (the proxy owns them; two slots could not
// both bind them) and joins the shared network beside its default one.
func SlotOverride(proxyService, network string) []byte {
	return []byte(fmt.Sprintf(`# Written by hoist (strategy: zero-downtime); rewritten on every deploy.
services:
  %s:
    ports: !reset []
    networks:
      default: {}
      hoist-proxy: {}
networks:
  hoist-proxy:
    name: %s
    external: true
`, proxyService, network))
}

// proxyFiles are the files WriteProxyFile may write, relative to the
// proxy folder.
var proxyFiles = []string{ProxyConfigFile, SlotOverrideFile, UpstreamDir + "/" + UpstreamFile}

// WriteProxyFile replaces one of the proxy folder's files (ProxyConfigFile,
// SlotOverrideFile, the upstream's dial) with data atomically: a temporary
// name in the same folder, then rename(2), so the proxy, which reads the
// dial on every request, sees the old content or the new, never a
// half-written file. It creates the folders.
func (l Layout) WriteProxyFile(name string, data []byte) remote.Command {
	if err := l.checkBase(); err != nil || !slices.Contains(proxyFiles, name) {
		panic(fmt.Sprintf("commands: no proxy file %q under %q", name, l.Base))
	}
	file := path.Join(l.ProxyDir(), name)
	tmp := path.Join(path.Dir(file), "."+path.Base(file)+".tmp")
	return remote.Cmd("mkdir", "-p", "--", path.Dir(file)).
		And("tee", "--", tmp).
		And("mv", "-T", "--", tmp, file).
		WithStdin(data)
}

// ReadUpstream prints the dial the proxy follows (exit 1: none yet).
func (l Layout) ReadUpstream() remote.Command {
	if err := l.checkBase(); err != nil {
		panic("commands: " + err.Error())
	}
	return remote.Cmd("cat", "--", path.Join(l.ProxyDir(), UpstreamDir, UpstreamFile))
}

// NetworkExists exits 0 when the Docker network exists.
func NetworkExists(name string) remote.Command {
	return remote.Cmd("docker", "network", "inspect", "--format", "{{.Name}}", name)
}

// CreateNetwork creates the shared network of a service's slots.
func CreateNetwork(name string) remote.Command {
	return remote.Cmd("docker", "network", "create", "--label", "org.hoist.network=zero-downtime", name)
}

// InspectProxy prints "RUNNING DIGEST" of the proxy container (exit 1:
// there is none).
func InspectProxy(name string) remote.Command {
	return remote.Cmd("docker", "inspect", "--type", "container", "--format",
		`{{.State.Running}} {{index .Config.Labels "`+ProxyLabel+`"}}`, name)
}

// ProxyRun is what the proxy container is started with.
type ProxyRun struct {
	Name, Network string
	Listen        string // host address:port published to the proxy's :80
	Image         string
	Dir           string // Layout.ProxyDir, mounted read-only at ProxyMount
	Digest        string // ProxyLabel's value
	DockerConfig  string // the service's docker client config (its registry login)
}

// RunProxy starts the proxy container. It restarts with the Docker
// daemon, as the slots do under their restart policy; its command is
// given in full, so the official image and the test bed's build of the
// same version start the same way.
func RunProxy(p ProxyRun) remote.Command {
	return remote.Cmd("docker", "--config", p.DockerConfig, "run", "--detach",
		"--name", p.Name, "--network", p.Network, "--restart", "unless-stopped",
		"--label", ProxyLabel+"="+p.Digest,
		"--publish", p.Listen+":80",
		"--volume", p.Dir+":"+ProxyMount+":ro",
		p.Image, "caddy", "run", "--config", ProxyMount+"/"+ProxyConfigFile)
}

// ContainerRunning prints true or false: whether the named container
// runs (exit 1: there is none).
func ContainerRunning(name string) remote.Command {
	return remote.Cmd("docker", "inspect", "--type", "container", "--format", "{{.State.Running}}", name)
}

// StartContainer starts a stopped container.
func StartContainer(name string) remote.Command { return remote.Cmd("docker", "start", name) }

// RemoveContainer removes a container, running or not.
func RemoveContainer(name string) remote.Command {
	return remote.Cmd("docker", "rm", "--force", name)
}

// SlotContainersFormat renders what ParseSlotContainers reads: project,
// the folder compose ran in (the release), state.
const SlotContainersFormat = `{{.Label "com.docker.compose.project"}}` + "\t" +
	`{{.Label "com.docker.compose.project.working_dir"}}` + "\t{{.State}}"

// SlotContainers lists the containers of every compose project on the
// host (label filters are ANDed, so one filter cannot name three
// projects); ParseSlotContainers keeps the service's own (strategy
// recreate) and its two slots.
func SlotContainers() remote.Command {
	return remote.Cmd("docker", "ps", "--all", "--format", SlotContainersFormat, "--filter", "label=com.docker.compose.project")
}

// SlotInfo is what one project of the service runs.
type SlotInfo struct {
	Version string `json:"version,omitempty"` // the release folder its containers came from
	Running int    `json:"running,omitempty"`
	Total   int    `json:"total,omitempty"`
}

// ParseSlotContainers reads SlotContainers' output by project. A
// container started from anywhere but a release folder of base gives no
// version.
func ParseSlotContainers(out, service, base string) map[string]SlotInfo {
	slots := map[string]SlotInfo{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 || f[0] != service && f[0] != SlotProject(service, SlotA) && f[0] != SlotProject(service, SlotB) {
			continue
		}
		s := slots[f[0]]
		s.Total++
		if f[2] == "running" {
			s.Running++
		}
		if dir, v := path.Split(f[1]); path.Clean(dir) == base && IsVersion(v) {
			s.Version = v
		}
		slots[f[0]] = s
	}
	return slots
}

// ParseUpstream reads which slot of service a dial names ("" for none
// of them).
func ParseUpstream(dial, service string) string {
	dial = strings.TrimSpace(dial)
	for _, s := range []string{SlotA, SlotB} {
		if strings.HasPrefix(dial, SlotProject(service, s)+"-") {
			return s
		}
	}
	return ""
}
