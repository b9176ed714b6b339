// Command hoist deploys Docker Compose projects to Linux hosts over SSH,
// each deploy a durable Temporal workflow.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hoist-dev/hoist/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args, cli.StdStreams())
	stop()
	os.Exit(code)
}
