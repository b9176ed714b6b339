package cli

import (
	"fmt"
	"os"
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
// the global flags (the connection's TLS and API key included), and
// encrypted payloads and failures when keys are configured. keys is nil
// when payloads are not encrypted.
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
	if err := setConnection(c, &opts); err != nil {
		return client.Options{}, nil, err
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
