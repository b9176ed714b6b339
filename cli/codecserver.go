package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/hoist-dev/hoist/codec"
)

func codecServerCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "codec-server",
		Usage: "serve /encode and /decode so the Temporal Web UI and CLI show decrypted payloads",
		Description: `Runs a Temporal codec server holding the payload keys (--codec-key-file
or HOIST_CODEC_KEYS, as for the workers). Point the viewers at it:

  Web UI:   in the UI's codec server settings ("Data Encoder"), set the
            endpoint to http://127.0.0.1:8081 (stored in your browser), or
            start the dev server with
              temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8081
  temporal: temporal workflow show -w ID --codec-endpoint http://127.0.0.1:8081

The Web UI calls the codec server from your browser, so the UI's address
as you typed it (http://localhost:8233 and http://127.0.0.1:8233 by
default) must be an --allow-origin. The codec server has no
authentication: whoever reaches it can decrypt any payload. Keep it on
loopback, or behind a proxy that authenticates.`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "listen", Usage: "host:port to serve on", Value: "127.0.0.1:8081"},
			&ucli.StringSliceFlag{Name: "allow-origin", Usage: "Web UI origin (scheme://host:port) allowed to call from a browser (repeatable)", Value: ucli.NewStringSlice("http://localhost:8233", "http://127.0.0.1:8233")},
		},
		Action: func(c *ucli.Context) error {
			keys, err := loadKeyring(c)
			if err != nil {
				return err
			}
			if keys == nil {
				return Usagef("codec-server needs the payload keys: set --%s or %s", flagCodecKeyFile, envCodecKeys)
			}
			origins := c.StringSlice("allow-origin")
			for _, o := range origins {
				if (!strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://")) || strings.HasSuffix(o, "/") {
					return Usagef("--allow-origin %q: want scheme://host[:port], as the browser sends it, e.g. http://localhost:8233", o)
				}
			}
			addr := c.String("listen")
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("codec server: %w", err)
			}
			if !isLoopback(ln.Addr()) {
				fmt.Fprintf(s.Err, "hoist: warning: the codec server on %s decrypts for anyone who can reach it\n", ln.Addr())
			}
			fmt.Fprintf(s.Err, "hoist: codec server on http://%s (keys %s; browser origins %s)\n", ln.Addr(), strings.Join(keys.IDs(), ", "), strings.Join(origins, ", "))
			return serve(c.Context, ln, codec.Handler(keys, origins))
		},
	}
}

// serve serves h on ln until ctx ends (SIGINT/SIGTERM in main).
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("codec server: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("codec server: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("codec server: %w", err)
	}
	return nil
}

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
