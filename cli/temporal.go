package cli

import (
	"fmt"
	"log/slog"
	"net/url"
	"time"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/config"
)

const flagUIURL = "ui-url"

var uiURLFlag = &ucli.StringFlag{Name: flagUIURL, Usage: "Temporal Web UI base URL, for links", EnvVars: []string{"HOIST_UI_URL"}, Value: "http://localhost:8233"}

// dial connects to Temporal with the global flags, encrypting payloads
// when keys are configured. The SDK's own logging is kept to warnings: the
// CLI prints what the user needs.
func dial(c *ucli.Context, s Streams) (client.Client, error) {
	addr := c.String(flagTemporalAddress)
	opts, _, err := clientOptions(c, log.NewStructuredLogger(slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		return nil, err
	}
	connect := s.Dial
	if connect == nil {
		connect = client.Dial
	}
	cl, err := connect(opts)
	if err != nil {
		if tlsErr := tlsDialFailure(c, err); tlsErr != nil {
			return nil, tlsErr
		}
		return nil, &UsageError{Err: fmt.Errorf("cannot reach Temporal at %s (is the server running? `make testbed-up` starts a dev server): %w", addr, err)}
	}
	return cl, nil
}

// withService loads the service's config, connects to Temporal and runs
// fn: what every command about one service's running deploy starts with.
func withService(c *ucli.Context, s Streams, fn func(spec *config.Spec, cl client.Client) error) error {
	spec, err := loadSpec(c)
	if err != nil {
		return err
	}
	cl, err := dial(c, s)
	if err != nil {
		return err
	}
	defer cl.Close()
	return fn(spec, cl)
}

// workflowLink is where the Web UI shows a workflow's history.
func workflowLink(c *ucli.Context, id, runID string) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/history",
		c.String(flagUIURL), url.PathEscape(c.String(flagNamespace)), url.PathEscape(id), url.PathEscape(runID))
}

// failureConverter decodes failures the server returns outside a
// workflow result (a pending activity's last failure), decrypting them
// as the client does when keys are configured.
func failureConverter(c *ucli.Context) converter.FailureConverter {
	opts, _, err := clientOptions(c, nil)
	if err != nil || opts.FailureConverter == nil {
		return temporal.GetDefaultFailureConverter()
	}
	return opts.FailureConverter
}

const flagWaitForWorker = "wait-for-worker"

var waitForWorkerFlag = &ucli.BoolFlag{Name: flagWaitForWorker, Usage: "start even when no worker polls the task queue, and wait for one"}

// pollerFresh is how recently a live worker has polled: its long polls
// last about a minute. The server lists a worker that stopped for some
// minutes more; this cuts that to two.
const pollerFresh = 2 * time.Minute

// workerGrace is how long checkWorker waits for a worker to poll: one
// started a moment before (a script that starts a worker, then deploys)
// is still connecting.
const (
	workerGrace     = 5 * time.Second
	workerPollEvery = 250 * time.Millisecond
)

// checkWorker refuses, before anything starts, when no worker polls the
// task queue within workerGrace: the workflow would wait in the queue,
// silently, until one does. --wait-for-worker starts it anyway.
func checkWorker(c *ucli.Context, cl client.Client) error {
	if c.Bool(flagWaitForWorker) {
		return nil
	}
	queue := c.String(flagTaskQueue)
	deadline := time.Now().Add(workerGrace)
	for {
		resp, err := cl.DescribeTaskQueue(c.Context, queue, enums.TASK_QUEUE_TYPE_WORKFLOW)
		if err != nil {
			return fmt.Errorf("looking for workers on task queue %s: %w", queue, err)
		}
		if livePollers(resp.GetPollers(), time.Now()) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return noWorkerError(c.String(flagTemporalAddress), c.String(flagNamespace), queue)
		}
		select {
		case <-c.Context.Done():
			return c.Context.Err()
		case <-time.After(workerPollEvery):
		}
	}
}

// livePollers counts the pollers seen within pollerFresh of now.
func livePollers(ps []*taskqueuepb.PollerInfo, now time.Time) int {
	n := 0
	for _, p := range ps {
		if t := p.GetLastAccessTime(); t == nil || now.Sub(t.AsTime()) <= pollerFresh {
			n++
		}
	}
	return n
}

func noWorkerError(addr, ns, queue string) error {
	return Usagef("no worker polls task queue %s in namespace %s at %s, so nothing would run the deploy; nothing was started. "+
		"Start one where the SSH key is: hoist --temporal-address %s --namespace %s --task-queue %s worker --ssh-key ~/.ssh/id_ed25519 "+
		"(or pass --%s to start anyway and wait for one)", queue, ns, addr, addr, ns, queue, flagWaitForWorker)
}
