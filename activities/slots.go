package activities

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/sshexec"
)

// The steps of strategy zero-downtime (package commands, slots.go): the
// proxy, the two slots, the traffic switch. Each reads the host's state
// first and acts only on what is not so yet, like every step.

// ProxyInput names the proxy of one service on one host.
type ProxyInput struct {
	Target Target       `json:"target"`
	Proxy  config.Proxy `json:"proxy"`
	// FilesOnly writes the files and creates the network, which a slot
	// needs before it starts, and leaves the container alone.
	FilesOnly bool `json:"files_only,omitempty"`
}

// ProxyResult says what EnsureProxy had to do.
type ProxyResult struct {
	Started   bool `json:"started,omitempty"`   // there was no proxy, or it was stopped
	Restarted bool `json:"restarted,omitempty"` // its config, image or listen address changed: recreated
}

// SlotsInput asks which slot serves.
type SlotsInput struct {
	Target Target       `json:"target"`
	Proxy  config.Proxy `json:"proxy"`
}

// SlotsResult is what the host runs of the service: its slots, its own
// project (left from strategy recreate) and the slot the proxy follows.
type SlotsResult struct {
	Serving string            `json:"serving,omitempty"` // a, b or "" (no dial yet)
	Dial    string            `json:"dial,omitempty"`
	A       commands.SlotInfo `json:"a"`
	B       commands.SlotInfo `json:"b"`
	Own     commands.SlotInfo `json:"own"` // the service's own project (strategy recreate)
}

// Slot is the info of slot s.
func (r SlotsResult) Slot(s string) commands.SlotInfo {
	if s == commands.SlotB {
		return r.B
	}
	return r.A
}

// SlotInput names one release in one slot.
type SlotInput struct {
	Target      Target       `json:"target"`
	Version     string       `json:"version"`
	Slot        string       `json:"slot"`
	ComposeFile string       `json:"compose_file"`
	Proxy       config.Proxy `json:"proxy"`
}

// SwitchTrafficInput points the proxy at a slot.
type SwitchTrafficInput struct {
	Target Target       `json:"target"`
	Slot   string       `json:"slot"`
	Proxy  config.Proxy `json:"proxy"`
}

// CheckProxyInput checks through the proxy that a slot answers.
type CheckProxyInput struct {
	Target Target       `json:"target"`
	Slot   string       `json:"slot"`
	Proxy  config.Proxy `json:"proxy"`
	Path   string       `json:"path"` // the health check's path, or /
}

// CheckProxyResult is what the proxy answered.
type CheckProxyResult struct {
	Status   int    `json:"status"`
	Upstream string `json:"upstream"`
	Tries    int    `json:"tries"`
}

func (p ProxyInput) check() error {
	if err := p.Target.check(); err != nil {
		return err
	}
	return p.Proxy.Check(p.Target.Service)
}

// slotCompose builds compose commands for a release in a slot.
func (in SlotInput) compose() commands.Compose {
	c := in.Target.Slot(in.Version, commands.SlotProject(in.Target.Service, in.Slot))
	c.File, c.Override = in.ComposeFile, path.Join(in.Target.Layout().ProxyDir(), commands.SlotOverrideFile)
	return c
}

func (in SlotInput) check() error {
	if err := in.Target.checkRelease(in.Version); err != nil {
		return err
	}
	if err := commands.CheckSlot(in.Slot); err != nil {
		return err
	}
	if f := path.Clean(in.ComposeFile); in.ComposeFile == "" || f != in.ComposeFile || path.IsAbs(f) || strings.HasPrefix(f, "..") || strings.ContainsAny(f, "\x00\n") {
		return fmt.Errorf("compose file %q is not a file inside the release", in.ComposeFile)
	}
	return in.Proxy.Check(in.Target.Service)
}

// proxyFiles are the proxy's config and the slots' override, and the
// digest the proxy container is labelled with: a proxy started from
// anything else is recreated.
func proxyFiles(t Target, p config.Proxy) (cfg, override []byte, digest string, err error) {
	cfg, err = commands.CaddyConfig(commands.ProxySpec{Name: commands.UpstreamFile})
	if err != nil {
		return nil, nil, "", err
	}
	override = commands.SlotOverride(p.Service, commands.ProxyNetwork(t.Service))
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", p.Image, p.Listen)
	h.Write(cfg)
	return cfg, override, hex.EncodeToString(h.Sum(nil))[:16], nil
}

// EnsureProxy makes the service's proxy run on the host as hoist.yml
// says: its files written, the shared network there, the container
// running with that config, image and listen address. A running proxy
// with all of that is left alone: it never restarts on a deploy, so open
// connections stay open.
func (a *Activities) EnsureProxy(ctx context.Context, in ProxyInput) (ProxyResult, error) {
	const step = "proxy"
	t := in.Target
	if err := in.check(); err != nil {
		return ProxyResult{}, invalid(t, step, err)
	}
	cfg, override, digest, err := proxyFiles(t, in.Proxy)
	if err != nil {
		return ProxyResult{}, invalid(t, step, err)
	}
	l := t.Layout()
	for _, f := range []struct {
		name string
		data []byte
	}{{commands.ProxyConfigFile, cfg}, {commands.SlotOverrideFile, override}} {
		if _, err := a.runLocked(ctx, t, step, l.WriteProxyFile(f.name, f.data)); err != nil {
			return ProxyResult{}, err
		}
	}
	network := commands.ProxyNetwork(t.Service)
	if _, err := a.SSH.Run(ctx, t.Host, commands.NetworkExists(network)); err != nil {
		var exit *sshexec.ExitError
		if !errors.As(err, &exit) {
			return ProxyResult{}, fail(ctx, t, step, err)
		}
		if _, err := a.runLocked(ctx, t, step+": create network "+network, commands.CreateNetwork(network)); err != nil {
			return ProxyResult{}, err
		}
	}
	var res ProxyResult
	if in.FilesOnly {
		return res, nil
	}
	name := commands.ProxyContainer(t.Service)
	out, err := a.SSH.Run(ctx, t.Host, commands.InspectProxy(name))
	var exit *sshexec.ExitError
	switch {
	case errors.As(err, &exit): // none yet
	case err != nil:
		return res, fail(ctx, t, step, err)
	default:
		running, label, _ := strings.Cut(strings.TrimSpace(out.Stdout), " ")
		if label == digest {
			if running == "true" {
				return res, nil
			}
			res.Started = true
			_, err := a.runLocked(ctx, t, step+": start "+name, commands.StartContainer(name))
			return res, err
		}
		res.Restarted = true
		if _, err := a.runLocked(ctx, t, step+": replace "+name, commands.RemoveContainer(name)); err != nil {
			return res, err
		}
	}
	res.Started = true
	run := commands.ProxyRun{Name: name, Network: network, Listen: in.Proxy.Listen, Image: in.Proxy.Image,
		Dir: l.ProxyDir(), Digest: digest, DockerConfig: l.DockerConfig()}
	if _, err := a.runLocked(ctx, t, step+": start "+name+" ("+in.Proxy.Image+" on "+in.Proxy.Listen+")", commands.RunProxy(run)); err != nil {
		return res, err
	}
	return res, nil
}

// Slots reads which slot the proxy follows and what each slot runs.
func (a *Activities) Slots(ctx context.Context, in SlotsInput) (SlotsResult, error) {
	const step = "slots"
	t := in.Target
	if err := t.check(); err != nil {
		return SlotsResult{}, invalid(t, step, err)
	}
	var res SlotsResult
	out, err := a.SSH.Run(ctx, t.Host, t.Layout().ReadUpstream())
	var exit *sshexec.ExitError
	switch {
	case errors.As(err, &exit): // no dial yet: nothing was switched
	case err != nil:
		return res, fail(ctx, t, step, err)
	default:
		res.Dial = strings.TrimSpace(out.Stdout)
		res.Serving = commands.ParseUpstream(res.Dial, t.Service)
	}
	out, err = a.run(ctx, t, step, commands.SlotContainers())
	if err != nil {
		return res, err
	}
	slots := commands.ParseSlotContainers(out.Stdout, t.Service, t.Base)
	res.A = slots[commands.SlotProject(t.Service, commands.SlotA)]
	res.B = slots[commands.SlotProject(t.Service, commands.SlotB)]
	res.Own = slots[t.Service]
	return res, nil
}

// StartSlot starts a release in a slot beside the one that serves: up
// with the slot override (no published ports, the shared network). A
// slot that holds the release's stopped containers just starts them.
func (a *Activities) StartSlot(ctx context.Context, in SlotInput) (StartResult, error) {
	step := "start slot " + in.Slot
	if err := in.check(); err != nil {
		return StartResult{}, invalid(in.Target, step, err)
	}
	stop := a.heartbeat(ctx, step)
	defer stop()
	res, err := a.runLocked(ctx, in.Target, step+", release "+in.Version, in.compose().Up())
	if err != nil {
		return StartResult{}, err
	}
	return StartResult{UpAt: commands.ParseHostClock(res.Stdout)}, nil
}

// StopSlot stops a slot's containers and keeps them: a rollback to the
// release it ran starts them again, a zero-downtime switch back.
func (a *Activities) StopSlot(ctx context.Context, in SlotInput) error {
	step := "stop slot " + in.Slot
	if err := in.check(); err != nil {
		return invalid(in.Target, step, err)
	}
	stop := a.heartbeat(ctx, step)
	defer stop()
	_, err := a.runLocked(ctx, in.Target, step+", release "+in.Version, in.compose().Stop())
	return err
}

// RemoveSlot removes a slot's containers (a release that failed there).
func (a *Activities) RemoveSlot(ctx context.Context, in SlotInput) error {
	step := "remove slot " + in.Slot
	if err := in.check(); err != nil {
		return invalid(in.Target, step, err)
	}
	stop := a.heartbeat(ctx, step)
	defer stop()
	_, err := a.runLocked(ctx, in.Target, step+", release "+in.Version, in.compose().Down())
	return err
}

// SwitchTraffic points the proxy at the slot: the dial file is replaced
// by rename, and the proxy's next request goes there. No reload: no
// connection is closed.
func (a *Activities) SwitchTraffic(ctx context.Context, in SwitchTrafficInput) error {
	step := "switch traffic to slot " + in.Slot
	t := in.Target
	if err := t.check(); err != nil {
		return invalid(t, step, err)
	}
	if err := commands.CheckSlot(in.Slot); err != nil {
		return invalid(t, step, err)
	}
	if err := in.Proxy.Check(t.Service); err != nil {
		return invalid(t, step, err)
	}
	dial := commands.SlotDial(t.Service, in.Slot, in.Proxy.Service, in.Proxy.Port)
	_, err := a.runLocked(ctx, t, step, t.Layout().WriteProxyFile(commands.UpstreamDir+"/"+commands.UpstreamFile, []byte(dial)))
	return err
}

// checkProxyFor bounds CheckProxy's tries.
const checkProxyFor = 15 * time.Second

// tcpDialer is the SSH executor's port forwarding (sshexec.Client.Dial):
// a connection from the host itself, through the SSH connection.
type tcpDialer interface {
	Dial(ctx context.Context, host, addr string) (net.Conn, error)
}

// CheckProxy asks the proxy, from the host, for the path until the
// response comes from the slot (the proxy names the upstream it used in
// commands.UpstreamHeader) with a status below 500: the switch is seen
// working from where clients come in, not just written.
func (a *Activities) CheckProxy(ctx context.Context, in CheckProxyInput) (CheckProxyResult, error) {
	step := "check through the proxy"
	t := in.Target
	if err := t.check(); err != nil {
		return CheckProxyResult{}, invalid(t, step, err)
	}
	if err := commands.CheckSlot(in.Slot); err != nil {
		return CheckProxyResult{}, invalid(t, step, err)
	}
	if err := in.Proxy.Check(t.Service); err != nil {
		return CheckProxyResult{}, invalid(t, step, err)
	}
	if in.Path == "" {
		in.Path = "/"
	}
	if !strings.HasPrefix(in.Path, "/") || strings.ContainsAny(in.Path, " \r\n\x00") {
		return CheckProxyResult{}, invalid(t, step, fmt.Errorf("path %q is not an HTTP path", in.Path))
	}
	d, ok := a.SSH.(tcpDialer)
	if !ok {
		return CheckProxyResult{}, temporal.NewNonRetryableApplicationError("host "+t.Label()+", step "+step+": this worker's SSH executor cannot forward ports", ErrInvalid, nil)
	}
	want := commands.SlotDial(t.Service, in.Slot, in.Proxy.Service, in.Proxy.Port)
	addr := config.ListenLocal(in.Proxy.Listen)
	var res CheckProxyResult
	var last string
	var err error
	// Long enough for the proxy's own retries (commands.DefaultTryDuration)
	// to end in an answer or a 502 within one try.
	deadline := time.Now().Add(checkProxyFor)
	for {
		res.Tries++
		var status int
		var upstream string
		status, upstream, err = getThrough(ctx, d, t.Host, addr, in.Path)
		res.Status, res.Upstream = status, upstream
		switch {
		case err != nil:
			last = err.Error()
		case upstream == want && status < 500:
			return res, nil
		default:
			last = fmt.Sprintf("answered %d from %q", status, upstream)
		}
		if err != nil || res.Upstream != want {
			// The slot passed its gate a moment ago; if its container has
			// stopped since, waiting out the window would leave the proxy
			// pointing at nothing: fail now, and the rollback gives the
			// traffic back.
			name, _, _ := strings.Cut(want, ":")
			if out, rerr := a.SSH.Run(ctx, t.Host, commands.ContainerRunning(name)); rerr == nil && strings.TrimSpace(out.Stdout) == "false" {
				msg := fmt.Sprintf("host %s, step %s: container %s of slot %s stopped right after the switch (the proxy answered: %s)", t.Label(), step, name, in.Slot, last)
				return res, temporal.NewNonRetryableApplicationError(msg, ErrCommand, nil)
			}
		}
		if !time.Now().Before(deadline) || ctx.Err() != nil {
			var conn *sshexec.ConnError
			if err != nil && (errors.As(err, &conn) || sshexec.Retryable(err)) {
				// The host itself could not be reached: worth another attempt.
				return res, fail(ctx, t, step, err)
			}
			// The proxy answered wrong, or not at all, for the whole
			// window: another attempt would say the same, later.
			msg := fmt.Sprintf("host %s, step %s: the proxy on %s did not answer from slot %s (%s) within %s: %s", t.Label(), step, in.Proxy.Listen, in.Slot, want, checkProxyFor, last)
			return res, temporal.NewNonRetryableApplicationError(msg, ErrCommand, nil)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// getThrough sends one GET to addr from the host, on a fresh forwarded
// connection, and returns the status and the upstream header.
func getThrough(ctx context.Context, d tcpDialer, host, addr, p string) (int, string, error) {
	// Shorter than the proxy's own retries: a try that waits on them is
	// a sign to look at the container (CheckProxy).
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := d.Dial(ctx, host, addr)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+p, nil)
	if err != nil {
		return 0, "", err
	}
	req.Close = true
	req.Header.Set("User-Agent", "hoist-check")
	if err := req.Write(conn); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get(commands.UpstreamHeader), nil
}
