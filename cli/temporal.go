package cli

import (
	"fmt"
	"log/slog"
	"net/url"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/hoist-dev/hoist/config"
)

const flagUIURL = "ui-url"

var uiURLFlag = &ucli.StringFlag{Name: flagUIURL, Usage: "Temporal Web UI base URL, for links", EnvVars: []string{"HOIST_UI_URL"}, Value: "http://localhost:8233"}

// dial connects to Temporal with the global flags, encrypting payloads
// when keys are configured. The SDK's own logging is kept to warnings: the
// CLI prints what the user needs.
func dial(c *ucli.Context) (client.Client, error) {
	addr := c.String(flagTemporalAddress)
	opts, _, err := clientOptions(c, log.NewStructuredLogger(slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		return nil, err
	}
	cl, err := client.Dial(opts)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Temporal at %s (is the server running? `make testbed-up` starts a dev server): %w", addr, err)
	}
	return cl, nil
}

// withService loads the service's config, connects to Temporal and runs
// fn: what every command about one service's running deploy starts with.
func withService(c *ucli.Context, fn func(spec *config.Spec, cl client.Client) error) error {
	spec, err := loadSpec(c)
	if err != nil {
		return err
	}
	cl, err := dial(c)
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
