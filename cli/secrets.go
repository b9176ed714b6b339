package cli

import (
	"fmt"
	"strings"

	ucli "github.com/urfave/cli/v2"

	"github.com/hoist-dev/hoist/config"
)

// checkSecretsEncrypted refuses a bundle holding env files unless
// payloads are encrypted: the bundle is the workflow's input, kept in the
// history and shown by the Web UI and `temporal workflow show` to anyone
// who can read the namespace.
func checkSecretsEncrypted(c *ucli.Context, spec *config.Spec, bundle []byte) error {
	files, err := config.BundleEnvFiles(bundle, spec.ComposeFile)
	if err != nil {
		return &UsageError{Err: fmt.Errorf("files %s: %w", spec.FilesDir, err)}
	}
	if len(files) == 0 {
		return nil
	}
	keys, err := loadKeyring(c)
	if err != nil {
		return err
	}
	if keys != nil {
		return nil
	}
	return Usagef("files %s: %s holds environment values, and payloads are not encrypted: the release bundle is the workflow's input, "+
		"readable in cleartext in the Temporal Web UI and `temporal workflow show`. Nothing was started. Encrypt payloads: "+
		"umask 077; hoist codec-key > ~/.config/hoist/codec-keys, then give the same file to the CLI and every worker "+
		"with --%s (or its text in %s)",
		spec.FilesDir, strings.Join(files, ", "), flagCodecKeyFile, envCodecKeys)
}
