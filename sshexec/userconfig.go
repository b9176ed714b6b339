package sshexec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// NoSSHConfig, given as the ssh config file, reads none, as ssh -F none.
const NoSSHConfig = "none"

// SSHConfigFile is the OpenSSH client config a worker reads, as ssh(1)
// picks it: the file given (-F), none for NoSSHConfig, else the user's
// ~/.ssh/config when it exists. Without the default a host named by an
// ~/.ssh/config alias, which works with ssh, failed with "no such host".
// (ssh also reads /etc/ssh/ssh_config; hoist does not: its defaults there
// are meant for interactive use.) The package itself reads only the file
// it is given; this is for the caller that builds its Config.
func SSHConfigFile(given, home string) (string, error) {
	switch given {
	case NoSSHConfig:
		return "", nil
	case "":
		if home == "" {
			return "", nil
		}
		p := filepath.Join(home, ".ssh", "config")
		switch _, err := os.Stat(p); {
		case err == nil:
			return p, nil
		case errors.Is(err, fs.ErrNotExist):
			return "", nil
		default:
			return "", fmt.Errorf("ssh config %s: %w", p, err)
		}
	}
	if _, err := os.Stat(given); err != nil {
		return "", fmt.Errorf("ssh config: %w", err)
	}
	return given, nil
}
