package commands

import (
	"fmt"
	"path"

	"github.com/hoist-dev/hoist/remote"
)

// Compose builds docker compose commands for one release of one project.
// The project name is always explicit: compose would otherwise name a
// project loaded through the current symlink "current", and each release
// folder would become a project of its own.
type Compose struct {
	Layout  Layout
	Project string
	Version string
	// Override, when set, is a compose file applied over the release's
	// own File (zero-downtime's slots: SlotOverride). Naming one file
	// makes compose read only the files named, so File is named too.
	Override string
	File     string
}

func (c Compose) cmd(args ...string) remote.Command {
	dir := c.Layout.mustRelease(c.Version)
	argv := []string{"docker", "--config", c.Layout.DockerConfig(), "compose", "--project-name", c.Project}
	if c.Override != "" {
		argv = append(argv, "--file", c.File, "--file", c.Override)
	}
	return remote.Cmd(append(argv, args...)...).In(dir)
}

// DockerConfigDir is the service's own Docker client config folder, in
// remote_base. A dot-name: never taken for a release (IsVersion).
const DockerConfigDir = ".docker"

// DockerConfig is the Docker client config folder every docker command of
// the service runs with (docker --config): its registry login lives there,
// not in the deploy user's one ~/.docker/config.json, where concurrent
// deploys of two services would race and each would use the other's
// login. docker login creates it mode 0700 and config.json 0600. Docker
// then looks for CLI plugins in it and the system-wide folders only, so
// docker compose must be installed system-wide, as distribution and
// Docker packages do, not under ~/.docker/cli-plugins.
func (l Layout) DockerConfig() string { return path.Join(l.Base, DockerConfigDir) }

// Pull fetches the release's images while the running release still serves.
func (c Compose) Pull() remote.Command { return c.cmd("pull", "--quiet") }

// Up starts the release, replacing the project's containers, and removes
// containers of services the release no longer has. It first prints the
// host's clock, so containers up created can be told from ones it left in
// place without another round trip (see ParseUpStart).
func (c Compose) Up() remote.Command {
	up := c.cmd("up", "--detach", "--remove-orphans")
	return remote.Command{Dir: up.Dir, Steps: append([][]string{hostClock}, up.Steps...)}
}

// RunHook runs a one-off service of the release, as hooks do: removed
// when it ends, without starting its dependencies (the release's own
// services are what it works on), with no TTY (its output is logged).
func (c Compose) RunHook(service string) remote.Command {
	return c.cmd("run", "--rm", "--no-deps", "-T", service)
}

// Down stops and removes the project's containers.
func (c Compose) Down() remote.Command { return c.cmd("down", "--remove-orphans") }

// Stop stops the project's containers but keeps them, and their logs.
func (c Compose) Stop() remote.Command { return c.cmd("stop") }

// ContainerLogs is the last lines a container wrote, both streams.
func ContainerLogs(id string, lines int) remote.Command {
	return remote.Cmd("docker", "logs", "--tail", fmt.Sprint(lines), id)
}

// ContainerIDs lists the project's containers (of the given services, or
// all), running or not.
func (c Compose) ContainerIDs(services ...string) remote.Command {
	return c.cmd(append([]string{"ps", "--all", "--quiet"}, services...)...)
}

// ContainerIDsByLabel lists what ContainerIDs lists (compose ps --all:
// the project's containers, one-off ones too, running or not, of the
// given services) by the labels compose itself filters on — project,
// config-hash present; one service by its label — without starting
// compose. compose loads and interpolates the whole project before it
// lists anything: about 0.17 CPU-s a call on the test bed's hosts, where
// docker ps takes 0.05, and the running check lists on every host of a
// batch while the hosts' engines are busy starting containers. Several
// services are sorted out by the caller, as compose does (docker's label
// filters must all match). ContainerIDs stays for people: the recovery
// commands an error prints.
func (c Compose) ContainerIDsByLabel(services ...string) remote.Command {
	if err := c.Layout.checkBase(); err != nil {
		panic("commands: " + err.Error())
	}
	argv := []string{"docker", "--config", c.Layout.DockerConfig(), "ps", "--all", "--quiet", "--no-trunc",
		"--filter", "label=com.docker.compose.project=" + c.Project, "--filter", "label=com.docker.compose.config-hash"}
	if len(services) == 1 {
		argv = append(argv, "--filter", "label=com.docker.compose.service="+services[0])
	}
	return remote.Cmd(argv...)
}

// ContainerStateFormat renders one line per container for ParseContainers.
// State goes out as JSON: docker's templates fail on a missing Health key
// (containers without a healthcheck), and JSON keeps every field intact.
// The healthcheck and the networks' addresses come in the same line, so
// the health gate reads all it needs in one inspect per poll.
const ContainerStateFormat = "{{.Id}}\t{{.Name}}\t{{index .Config.Labels \"com.docker.compose.service\"}}\t{{.RestartCount}}\t{{.Created}}\t{{json .State}}" +
	"\t{{json (index .Config \"Healthcheck\")}}\t{{json .NetworkSettings.Networks}}"

// InspectContainers reads the state of containers by ID in one call,
// after the host's clock (ParseHostClock), so how long a container has
// been up is measured on the clock that stamped its StartedAt.
func InspectContainers(ids ...string) remote.Command {
	argv := append([]string{"docker", "inspect", "--type", "container", "--format", ContainerStateFormat}, ids...)
	return remote.Cmd(hostClock...).And(argv...)
}

var hostClock = []string{"date", "-u", "+%Y-%m-%dT%H:%M:%S.%NZ"}

// ProjectContainers reads the state of every container of a project,
// wherever it was started from; for status reports.
func ProjectContainers(project string) remote.Command {
	return remote.Cmd("docker", "ps", "--all", "--filter", "label=com.docker.compose.project="+project,
		"--format", "{{.ID}}")
}

// RegistryLogin logs the host's docker in to server, keeping the login in
// dockerConfig (Layout.DockerConfig): the service's own, read by its pull
// and up. The password travels on standard input only: never in argv,
// where any user on the host could read it from the process list.
func RegistryLogin(dockerConfig, server, username string, password []byte) remote.Command {
	return remote.Cmd("docker", "--config", dockerConfig, "login", "--username", username, "--password-stdin", server).WithStdin(password)
}
