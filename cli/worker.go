package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/hoist-dev/hoist/activities"
	"github.com/hoist-dev/hoist/bundlestore"
	"github.com/hoist-dev/hoist/metrics"
	"github.com/hoist-dev/hoist/notify"
	"github.com/hoist-dev/hoist/registrycreds"
	"github.com/hoist-dev/hoist/sshexec"
	"github.com/hoist-dev/hoist/worker"
)

func workerCommand(s Streams) *ucli.Command {
	home, _ := os.UserHomeDir()
	return &ucli.Command{
		Name:  "worker",
		Usage: "run a worker: it executes deploys, holding the SSH and registry credentials",
		Flags: []ucli.Flag{
			&ucli.StringSliceFlag{Name: "ssh-key", Usage: "private key file offered to hosts (repeatable); ssh-agent keys are used too when SSH_AUTH_SOCK is set", EnvVars: []string{"HOIST_SSH_KEY"}},
			&ucli.StringFlag{Name: "known-hosts", Usage: "known_hosts file host keys are verified against", EnvVars: []string{"HOIST_KNOWN_HOSTS"}, Value: filepath.Join(home, ".ssh", "known_hosts")},
			&ucli.StringFlag{Name: "ssh-config", Usage: "OpenSSH client config for host aliases, users, ports, keys and ProxyJump (default ~/.ssh/config when it exists, as for ssh; none: read none)", EnvVars: []string{"HOIST_SSH_CONFIG"}},
			&ucli.StringFlag{Name: "registry-credentials", Usage: "YAML file of the registry credentials hosts log in with, by server: SERVER: {username, password_file | password_env} or SERVER: {ecr: {region}}; a deploy naming a server not in it is refused", EnvVars: []string{"HOIST_REGISTRY_CREDENTIALS"}},
			&ucli.StringFlag{Name: "host-key-policy", Usage: "strict: refuse hosts not in known_hosts; accept-new: record a new host's key (a changed key is always refused)", EnvVars: []string{"HOIST_HOST_KEY_POLICY"}, Value: "strict"},
			&ucli.IntFlag{Name: "ssh-max-dialing", Usage: "SSH connections being started (TCP dial and handshake) at once; more wait their turn, without it counting against their dial timeout", EnvVars: []string{"HOIST_SSH_MAX_DIALING"}, Value: sshexec.DefaultMaxDialing},
			&ucli.StringFlag{Name: "notify-config", Usage: "YAML file of the notifiers hoist.yml's notify list may name (slack, dingtalk, webhook; URLs and secrets from files or the environment); a deploy naming one not in it is refused", EnvVars: []string{"HOIST_NOTIFY_CONFIG"}},
			uiURLFlag,
			&ucli.StringFlag{Name: "log-level", Usage: "debug, info, warn or error", EnvVars: []string{"HOIST_LOG_LEVEL"}, Value: "info"},
			&ucli.StringFlag{Name: "log-format", Usage: "text (key=value lines) or json (one object a line), for every log line of the worker, the Temporal SDK's included", EnvVars: []string{"HOIST_LOG_FORMAT"}, Value: "text"},
			&ucli.StringFlag{Name: "metrics-addr", Usage: "host:port to serve Prometheus metrics on (/metrics) and health (/healthz: 200 while polling, 503 otherwise); default: none", EnvVars: []string{"HOIST_METRICS_ADDR"}},
		},
		Action: func(c *ucli.Context) error {
			var policy sshexec.HostKeyPolicy
			switch p := c.String("host-key-policy"); p {
			case "strict":
				policy = sshexec.Strict
			case "accept-new":
				policy = sshexec.AcceptNew
			default:
				return Usagef("--host-key-policy: want strict or accept-new, got %q", p)
			}
			if n := c.Int("ssh-max-dialing"); n < 1 {
				return Usagef("--ssh-max-dialing: want at least 1, got %d", n)
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
				return Usagef("--log-level: %v", err)
			}
			logger, err := newLogger(s.Err, c.String("log-format"), level)
			if err != nil {
				return err
			}
			if err := runWorker(c, logger, policy, home); err != nil {
				if c.String("log-format") == "json" {
					// A log reader sees why it stopped; stderr says it
					// plainly too.
					logger.Error("hoist worker stopped", "err", err.Error())
				}
				return err
			}
			return nil
		},
	}
}

// newLogger is the worker's logger, in --log-format.
func newLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	o := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, Usagef("--log-format: want text or json, got %q", format)
}

// runWorker runs the worker until it is stopped.
func runWorker(c *ucli.Context, logger *slog.Logger, policy sshexec.HostKeyPolicy, home string) error {
	// --metrics-addr listens first: a port in use stops the
	// worker before it connects to anything. /healthz answers 503
	// until the worker polls.
	var m *metrics.Metrics
	var svc atomic.Pointer[worker.Service]
	if addr := c.String("metrics-addr"); addr != "" {
		var err error
		if m, err = metrics.New(func(err error) { logger.Warn("metrics: " + err.Error()) }); err != nil {
			return err
		}
		defer m.Shutdown(context.Background())
		srv, err := metrics.Listen(addr, m.Mux(func(ctx context.Context) error {
			if s := svc.Load(); s != nil {
				return s.Ready(ctx)
			}
			return errors.New("starting: not polling yet")
		}))
		if err != nil {
			return Usagef("--metrics-addr: %v", err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Close(ctx)
		}()
		logger.Info("serving metrics and health", "metrics", "http://"+srv.Addr()+"/metrics", "health", "http://"+srv.Addr()+"/healthz")
	}
	opts, keys, err := clientOptions(c, log.NewStructuredLogger(logger.With("component", "temporal")))
	if err != nil {
		return err
	}
	var onConnectError func(error)
	if m != nil {
		opts.MetricsHandler = m.Handler()
		onConnectError = m.SSHConnectionError
	}
	payloadKeys := "none"
	if keys != nil {
		payloadKeys = strings.Join(keys.IDs(), ",")
	} else {
		logger.Warn("payloads are not encrypted; set --codec-key-file (or HOIST_CODEC_KEYS) to keep release bundles, results and errors out of the Temporal history in cleartext")
	}
	for _, k := range c.StringSlice("ssh-key") {
		if _, err := os.Stat(k); err != nil {
			return Usagef("--ssh-key: %v", err)
		}
	}
	sshConfig, err := sshexec.SSHConfigFile(c.String("ssh-config"), home)
	if err != nil {
		return Usagef("--ssh-config: %v", err)
	}
	registries, err := loadRegistryCredentials(c.String("registry-credentials"), logger)
	if err != nil {
		return err
	}
	localUser := ""
	if u, err := user.Current(); err == nil {
		localUser = u.Username
	}
	ssh, err := sshexec.New(sshexec.Config{
		User:           localUser,
		IdentityFiles:  c.StringSlice("ssh-key"),
		KnownHostsFile: c.String("known-hosts"),
		HostKeyPolicy:  policy,
		SSHConfigFile:  sshConfig,
		HomeDir:        home,
		AgentSocket:    os.Getenv("SSH_AUTH_SOCK"),
		MaxDialing:     c.Int("ssh-max-dialing"),
		Logger:         logger.With("component", "ssh"),
		OnConnectError: onConnectError,
	})
	if err != nil {
		return &UsageError{Err: err}
	}
	defer ssh.Close()
	notifiers, err := loadNotifiers(c.String("notify-config"), logger)
	if err != nil {
		return err
	}
	acts := &activities.Activities{
		SSH:        ssh,
		Registries: registries,
		Getenv:     os.Getenv,
		ECR:        activities.ECRClient{New: newECRClient},
		Notifier:   notifiers,
		UIURL:      c.String(flagUIURL),
		Namespace:  c.String(flagNamespace),
	}
	cl, err := client.Dial(opts)
	if err != nil {
		// A TLS setting that cannot work is the user's to fix (exit 2),
		// said as the other commands say it; anything else may pass.
		if tlsErr := tlsDialFailure(c, err); tlsErr != nil {
			return tlsErr
		}
		return fmt.Errorf("cannot reach Temporal at %s: %w", c.String(flagTemporalAddress), err)
	}
	defer cl.Close()
	// A rollout's hosts sync the bundle by reference: read once
	// from the deploy's history, then from memory.
	acts.Bundles = bundlestore.New(cl, opts.DataConverter)
	w := worker.NewService(cl, c.String(flagTaskQueue), acts)
	svc.Store(w)
	logger.Info("hoist worker started", "temporal", c.String(flagTemporalAddress), "namespace", c.String(flagNamespace), "task_queue", c.String(flagTaskQueue), "payload_keys", payloadKeys,
		"ssh_config", sshConfig, "registries", strings.Join(registries.Servers(), ","))
	return w.Run(interruptOn(c.Context, logger))
}

// interruptOn stops the worker when ctx ends (SIGINT/SIGTERM in main).
// The worker then stops taking tasks and lets running steps finish for up
// to worker.StopTimeout; a second signal ends it at once.
func interruptOn(ctx context.Context, logger *slog.Logger) <-chan any {
	again := make(chan os.Signal, 2)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	ch := make(chan any, 1)
	go func() {
		<-ctx.Done()
		logger.Info("stopping: no new steps are taken; running ones get up to " + worker.StopTimeout.String() + " to finish (signal again to stop at once)")
		ch <- struct{}{}
		<-again // the signal that ended ctx
		<-again
		logger.Warn("second signal: stopping now; steps still running are cut off and retried by another worker")
		os.Exit(130) // killed by a signal, as a shell reports it
	}()
	return ch
}

// loadRegistryCredentials reads the worker's registry credentials file
// and checks every password source in it now, not at a deploy's login.
func loadRegistryCredentials(path string, logger *slog.Logger) (*registrycreds.Store, error) {
	if path == "" {
		logger.Info("no --registry-credentials: deploys whose hoist.yml names a registry server are refused")
		return nil, nil
	}
	store, err := registrycreds.Load(path)
	if err != nil {
		return nil, Usagef("--registry-credentials: %v", err)
	}
	if err := store.Verify(os.Getenv); err != nil {
		return nil, Usagef("--registry-credentials: %v", err)
	}
	for _, w := range store.Warnings() {
		logger.Warn(w)
	}
	return store, nil
}

// loadNotifiers reads the worker's notifiers file; its URLs and secrets
// are read now, so a missing one stops the worker at start.
func loadNotifiers(path string, logger *slog.Logger) (*notify.Sender, error) {
	if path == "" {
		logger.Info("no --notify-config: deploys whose hoist.yml has a notify list are refused")
		return nil, nil
	}
	set, err := notify.Load(path, os.Getenv)
	if err != nil {
		return nil, Usagef("--notify-config: %v", err)
	}
	logger.Info("notifiers loaded", "notifiers", set.String())
	return &notify.Sender{Set: set}, nil
}

// newECRClient builds an ECR client from the SDK's default chain
// (environment, shared config, instance role); AWS_ENDPOINT_URL_ECR
// overrides the endpoint, as the SDK documents.
func newECRClient(ctx context.Context, region string) (*ecr.Client, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, err
	}
	return ecr.NewFromConfig(cfg), nil
}
