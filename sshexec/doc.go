// Package sshexec is the only place hoist runs commands on hosts.
//
// A Client keeps one SSH connection per host (resolved user@host:port) for
// the life of the process and runs many sessions on it, within a
// per-connection session limit. Host keys are always verified against a
// known_hosts file; an OpenSSH client config may supply aliases, users,
// ports, keys and one ProxyJump hop.
//
// Run executes a remote.Command and returns its exit code and the tails of
// its output; a non-zero exit is an *ExitError. Cancelling the context ends
// the remote process group, not only the session. Failures are typed
// (*ConnError, *AuthError, *HostKeyError, *ExitError, *ConflictError) and
// Retryable tells transport failures from permanent ones. Upload copies a
// directory atomically and idempotently over SFTP.
package sshexec
