package activities

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/commands"
	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/registrycreds"
)

// ECRTokens fetches a registry login from AWS ECR for a region.
type ECRTokens interface {
	Login(ctx context.Context, region string) (user, password, server string, err error)
}

// ECRClient gets ECR logins; New builds a client for a region (the worker
// uses the SDK's default credential chain).
type ECRClient struct {
	New func(ctx context.Context, region string) (*ecr.Client, error)
}

// Login calls GetAuthorizationToken. The token is base64 "user:password";
// the server is the token's proxy endpoint without its scheme.
func (e ECRClient) Login(ctx context.Context, region string) (string, string, string, error) {
	cl, err := e.New(ctx, region)
	if err != nil {
		return "", "", "", fmt.Errorf("AWS configuration for %s: %w", region, err)
	}
	out, err := cl.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return "", "", "", fmt.Errorf("ECR GetAuthorizationToken in %s: %w", region, err)
	}
	if len(out.AuthorizationData) == 0 {
		return "", "", "", fmt.Errorf("ECR GetAuthorizationToken in %s returned no authorization data", region)
	}
	d := out.AuthorizationData[0]
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(d.AuthorizationToken))
	if err != nil {
		return "", "", "", fmt.Errorf("ECR token in %s is not base64", region)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", "", fmt.Errorf("ECR token in %s is not user:password", region)
	}
	return user, pass, stripScheme(aws.ToString(d.ProxyEndpoint)), nil
}

func stripScheme(endpoint string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(endpoint, "https://"), "http://"), "/")
}

// RegistryCheckInput names the registry a deploy's hosts will log in to.
type RegistryCheckInput struct {
	Server string `json:"server"`
}

// CheckRegistry says, before any host is touched, whether this worker can
// log hosts in to the server a deploy spec names: it must hold a
// credential for exactly that server, with its password readable, and an
// ECR credential's token must be for that server. It runs on the worker
// alone (no SSH). Every refusal is non-retryable, as no retry makes a
// credential appear; only a failed call to AWS is retried. A secret read
// here is dropped, never returned.
func (a *Activities) CheckRegistry(ctx context.Context, in RegistryCheckInput) error {
	const where = "registry check"
	c, err := a.registryCredential(where, in.Server)
	if err == nil && c.IsECR() {
		_, _, err = a.ecrLogin(ctx, where, in.Server, c)
	}
	return err
}

// ecrLogin fetches an ECR token and refuses it unless it is for server.
func (a *Activities) ecrLogin(ctx context.Context, where, server string, c registrycreds.Credential) (string, []byte, error) {
	u, p, endpoint, err := a.ECR.Login(ctx, c.ECRRegion)
	if err != nil {
		return "", nil, temporal.NewApplicationErrorWithCause(fmt.Sprintf("%s: %v", where, err), ErrRegistry, err)
	}
	// The token is good for the registry it was issued for; sending it
	// anywhere else gives it away. The server must be that registry.
	if registrycreds.Key(endpoint) != registrycreds.Key(server) {
		return "", nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s: the worker's ECR credential for %s (region %s) is a token for %s, the ProxyEndpoint GetAuthorizationToken returned, not for %s; "+
				"name %s as the server, in hoist.yml and in the worker's registry credentials file", where, server, c.ECRRegion, endpoint, server, endpoint), ErrRegistry, nil)
	}
	return u, []byte(p), nil
}

// registryCredential finds and checks the worker's credential for server.
// Errors are non-retryable application errors starting with where.
func (a *Activities) registryCredential(where, server string) (registrycreds.Credential, error) {
	if server == "" {
		return registrycreds.Credential{}, temporal.NewNonRetryableApplicationError(
			where+": the deploy spec names no registry server (hoist.yml: registry: {server: HOST[:PORT]})", ErrInvalid, nil)
	}
	if msg := config.CheckRegistryServer(server); msg != "" {
		return registrycreds.Credential{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: invalid input: registry.server %s", where, msg), ErrInvalid, nil)
	}
	c, ok := a.Registries.Lookup(server)
	if !ok {
		file := "it was started without --registry-credentials"
		if f := a.Registries.File(); f != "" {
			file = "its --registry-credentials file " + f + " does not list " + server
		}
		return c, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%s: this worker holds no credential for registry %s (%s), so no host logs in there; "+
				"add the server to the worker's registry credentials file and restart the worker, "+
				"or drop registry: from hoist.yml if its images need no login", where, server, file), ErrRegistry, nil)
	}
	switch {
	case c.IsECR():
		if a.ECR == nil {
			return c, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("%s: registry %s: this worker has no ECR client", where, server), ErrRegistry, nil)
		}
	default:
		if _, err := c.Password(a.Getenv); err != nil {
			return c, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", where, err), ErrRegistry, nil)
		}
	}
	return c, nil
}

// RegistryLogin logs the host's docker in to the spec's registry server
// with the worker's credential for that server, and only that server:
// the spec's other registry fields (from before credentials moved to the
// worker) choose nothing. The password is read here, on the worker, and
// travels to the host on docker login's standard input: never in argv,
// logs, results or history. The login is kept in the service's own Docker
// config folder on the host (commands.Layout.DockerConfig).
func (a *Activities) RegistryLogin(ctx context.Context, in LoginInput) (LoginResult, error) {
	t, server := in.Target, in.Registry.Server
	if err := t.check(); err != nil {
		return LoginResult{}, invalid(t, "registry login", err)
	}
	where := fmt.Sprintf("host %s, step registry login", t.Label())
	c, err := a.registryCredential(where, server)
	if err != nil {
		return LoginResult{}, err
	}
	user := c.Username
	var password []byte
	if c.IsECR() {
		if user, password, err = a.ecrLogin(ctx, where, server, c); err != nil {
			return LoginResult{}, err
		}
	} else if password, err = c.Password(a.Getenv); err != nil {
		return LoginResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", where, err), ErrRegistry, nil)
	}
	_, err = a.runLocked(ctx, t, "registry login to "+server, commands.RegistryLogin(t.Layout().DockerConfig(), server, user, password))
	return LoginResult{Server: server}, err
}
