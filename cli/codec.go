package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"

	"github.com/hoist-dev/hoist/codec"
)

const (
	flagCodecKeyFile = "codec-key-file"
	// envCodecKeys holds the key file's text itself, for CI secrets. It has
	// no flag: a key on the command line shows in the process list.
	envCodecKeys = "HOIST_CODEC_KEYS"
)

// codecKeyFileFlag is built per app: urfave/cli stores an environment
// value into the flag it applies.
func codecKeyFileFlag() ucli.Flag {
	return &ucli.StringFlag{
		Name:    flagCodecKeyFile,
		Usage:   "file of ID:BASE64KEY lines (mode 600) encrypting payloads in Temporal: the first key encrypts, all decrypt; " + envCodecKeys + " may hold the text instead",
		EnvVars: []string{"HOIST_CODEC_KEY_FILE"},
	}
}

// loadKeyring reads the payload keys from --codec-key-file or
// $HOIST_CODEC_KEYS. It returns nil when neither is set.
func loadKeyring(c *ucli.Context) (*codec.Keyring, error) {
	file := c.String(flagCodecKeyFile)
	text, inEnv := os.LookupEnv(envCodecKeys)
	switch {
	case file != "" && inEnv:
		return nil, Usagef("both --%s and %s are set: use one", flagCodecKeyFile, envCodecKeys)
	case file != "":
		k, err := codec.LoadKeys(file)
		if err != nil {
			return nil, Usagef("--%s: %v", flagCodecKeyFile, err)
		}
		return k, nil
	case inEnv:
		// Set but empty is refused: it is a missing CI secret more often
		// than a wish for cleartext.
		k, err := codec.ParseKeys(text)
		if err != nil {
			return nil, Usagef("%s: %v", envCodecKeys, err)
		}
		return k, nil
	}
	return nil, nil
}

// clientOptions are the options of every Temporal client the CLI makes:
// the global flags, and encrypted payloads and failures when keys are
// configured. keys is nil when payloads are not encrypted.
func clientOptions(c *ucli.Context, logger log.Logger) (opts client.Options, keys *codec.Keyring, err error) {
	keys, err = loadKeyring(c)
	if err != nil {
		return client.Options{}, nil, err
	}
	opts = client.Options{
		HostPort:  c.String(flagTemporalAddress),
		Namespace: c.String(flagNamespace),
		Logger:    logger,
	}
	if keys != nil {
		dc := codec.DataConverter(keys)
		opts.DataConverter = dc
		opts.FailureConverter = codec.FailureConverter(dc)
	} else {
		opts.DataConverter = converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), noKeys{})
	}
	return opts, keys, nil
}

// noKeys is the codec of a client without keys: payloads pass through,
// and an encrypted one fails saying what to set, instead of the SDK's
// "payload encoding is not supported".
type noKeys struct{}

func (noKeys) Encode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) { return ps, nil }

func (noKeys) Decode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	for _, p := range ps {
		if md := p.GetMetadata(); string(md[codec.MetadataEncoding]) == codec.EncodingEncrypted {
			return nil, fmt.Errorf("the payload is encrypted (key %q) and no keys are set: set --%s or %s", md[codec.MetadataKeyID], flagCodecKeyFile, envCodecKeys)
		}
	}
	return ps, nil
}

func codecKeyCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "codec-key",
		Usage: "print a new payload key line for --codec-key-file",
		Description: `Prints ID:BASE64KEY with a fresh random 32-byte key. Start a key file:

   umask 077; hoist codec-key > ~/.config/hoist/codec-keys

To rotate, put the new line FIRST in the file of every worker, CLI and
codec server, and keep the old lines as long as histories encrypted with
them are retained: the first key encrypts, every key decrypts.`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "id", Usage: "key id, 1 to 64 of A-Z a-z 0-9 . _ - (default: hoist-YYYYMMDD, today in UTC)"},
		},
		Action: func(c *ucli.Context) error {
			id := c.String("id")
			if id == "" {
				id = "hoist-" + time.Now().UTC().Format("20060102")
			}
			line, err := codec.GenerateKey(id)
			if err != nil {
				return Usagef("--id: %v", err)
			}
			fmt.Fprintln(s.Out, line)
			return nil
		},
	}
}

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
