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
	server := aws.ToString(d.ProxyEndpoint)
	server = strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	return user, pass, server, nil
}

// RegistryLogin logs the host's docker in to the release's registry. The
// password is fetched here, on the worker, and travels to the host on
// docker login's standard input: never in argv, logs, results or history.
func (a *Activities) RegistryLogin(ctx context.Context, in LoginInput) (LoginResult, error) {
	t, r := in.Target, in.Registry
	var user, server string
	var password []byte
	switch r.Type {
	case "", "none":
		return LoginResult{}, nil
	case "basic":
		user, server = r.Username, r.Server
		if a.Getenv != nil {
			password = []byte(a.Getenv(r.PasswordEnv))
		}
		if len(password) == 0 {
			return LoginResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("host %s, step registry login: the worker's environment has no %s (set it where `hoist worker` runs)", t.Label(), r.PasswordEnv), ErrRegistry, nil)
		}
	case "ecr":
		if a.ECR == nil {
			return LoginResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("host %s, step registry login: this worker has no ECR client", t.Label()), ErrRegistry, nil)
		}
		u, p, s, err := a.ECR.Login(ctx, r.Region)
		if err != nil {
			return LoginResult{}, temporal.NewApplicationErrorWithCause(
				fmt.Sprintf("host %s, step registry login: %v", t.Label(), err), ErrRegistry, err)
		}
		user, password, server = u, []byte(p), s
		if r.Server != "" {
			server = r.Server
		}
	default:
		return LoginResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("host %s, step registry login: unknown registry type %q", t.Label(), r.Type), ErrInvalid, nil)
	}
	_, err := a.run(ctx, t, "registry login to "+server, commands.RegistryLogin(server, user, password))
	return LoginResult{Server: server}, err
}
