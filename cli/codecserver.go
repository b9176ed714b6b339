package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/hoist-dev/hoist/codec"
)

const (
	flagAuthTokenFile = "auth-token-file"
	flagAuthJWKSURL   = "auth-jwks-url"
	flagAuthJWKSFile  = "auth-jwks-file"
	flagAuthIssuer    = "auth-issuer"
	flagAuthAudience  = "auth-audience"
	flagNoAuth        = "no-auth"
	flagTLSCertFile   = "tls-cert-file"
	flagTLSKeyFile    = "tls-key-file"
)

func codecServerCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "codec-server",
		Usage: "serve /encode and /decode so the Temporal Web UI and CLI show decrypted payloads",
		Description: `Runs a Temporal codec server holding the payload keys (--codec-key-file
or HOIST_CODEC_KEYS, as for the workers). Whoever it serves can decrypt
every payload, so every /encode and /decode needs a bearer token:

  --auth-token-file FILE   lines NAME TOKEN (mode 600), for scripts and the
                           temporal CLI: --codec-auth "Bearer TOKEN"
  --auth-jwks-url URL      the Web UI's OIDC access tokens ("pass access
    --auth-issuer ISS      token" in its codec settings), RS256 or ES256
    --auth-audience AUD    JWTs checked against the issuer's keys

A request without a valid token is answered 401. Each request is logged
to stderr: who (token name or JWT subject), namespace, endpoint, payload
count, status; never a payload nor a token. --no-auth serves without
tokens, on a loopback address only (a developer's machine).

The Web UI passes the access token only to an https endpoint: give the
server --tls-cert-file and --tls-key-file, or put a TLS proxy in front.
Point the viewers at it:

  Web UI:   in the UI's codec server settings ("Data Encoder"), set the
            endpoint to https://codec.example.com:8081 (stored in your
            browser) and turn on "pass access token", or configure the UI
            server with codec.endpoint and codec.passAccessToken
  temporal: temporal workflow show -w ID --codec-endpoint URL --codec-auth "Bearer TOKEN"

The Web UI calls the codec server from your browser, so the UI's address
as you typed it (http://localhost:8233 and http://127.0.0.1:8233 by
default) must be an --allow-origin.`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "listen", Usage: "host:port to serve on", Value: "127.0.0.1:8081"},
			&ucli.StringSliceFlag{Name: "allow-origin", Usage: "Web UI origin (scheme://host:port) allowed to call from a browser (repeatable)", Value: ucli.NewStringSlice("http://localhost:8233", "http://127.0.0.1:8233")},
			&ucli.StringFlag{Name: flagAuthTokenFile, Usage: "`FILE` of bearer tokens, one NAME TOKEN a line (# comments), mode 600; the name is what the log shows"},
			&ucli.StringFlag{Name: flagAuthJWKSURL, Usage: "`URL` of the JWKS of the OIDC issuer whose access tokens (JWTs) are accepted (https; refreshed hourly and on an unknown key id)"},
			&ucli.StringFlag{Name: flagAuthJWKSFile, Usage: "the JWKS from a `FILE` instead of --" + flagAuthJWKSURL},
			&ucli.StringFlag{Name: flagAuthIssuer, Usage: "the `ISSUER` the JWTs' iss claim must be, exactly (required with a JWKS)"},
			&ucli.StringFlag{Name: flagAuthAudience, Usage: "an `AUDIENCE` the JWTs' aud claim must hold (required with a JWKS)"},
			&ucli.BoolFlag{Name: flagNoAuth, Usage: "serve without authentication: anyone who reaches the server decrypts; loopback --listen only"},
			&ucli.StringFlag{Name: flagTLSCertFile, Usage: "serve https with the PEM certificate (chain) in `FILE`"},
			&ucli.StringFlag{Name: flagTLSKeyFile, Usage: "`FILE` holding the PEM private key of --" + flagTLSCertFile},
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
			auth, authDesc, err := codecAuth(c)
			if err != nil {
				return err
			}
			tlsConfig, err := codecTLS(c)
			if err != nil {
				return err
			}
			addr := c.String("listen")
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("codec server: %w", err)
			}
			loopback := isLoopback(ln.Addr())
			if c.Bool(flagNoAuth) && !loopback {
				ln.Close()
				return Usagef("--%s works on a loopback address only, and --listen %s is %s, reachable from other machines: set --%s FILE or --%s URL (see hoist codec-server --help)", flagNoAuth, addr, ln.Addr(), flagAuthTokenFile, flagAuthJWKSURL)
			}
			scheme := "http"
			if tlsConfig != nil {
				scheme = "https"
				ln = tls.NewListener(ln, tlsConfig)
			}
			fmt.Fprintf(s.Err, "hoist: codec server on %s://%s (keys %s; auth %s; browser origins %s)\n", scheme, ln.Addr(), strings.Join(keys.IDs(), ", "), authDesc, strings.Join(origins, ", "))
			switch {
			case c.Bool(flagNoAuth):
				fmt.Fprintf(s.Err, "hoist: warning: --%s: the codec server on %s decrypts for any process on this machine\n", flagNoAuth, ln.Addr())
			case !loopback && tlsConfig == nil:
				fmt.Fprintf(s.Err, "hoist: warning: the codec server on %s is plain http: tokens and decrypted payloads cross the network in cleartext; set --%s and --%s, or put a TLS proxy in front\n", ln.Addr(), flagTLSCertFile, flagTLSKeyFile)
			}
			h := codec.Handler(keys, codec.ServerOptions{
				AllowOrigins: origins,
				Auth:         auth,
				Log:          slog.New(slog.NewTextHandler(s.Err, nil)),
			})
			return serve(c.Context, ln, h)
		},
	}
}

// codecAuth builds the authenticator the flags ask for, and says what it
// is for the start line. Without any, the server is refused.
func codecAuth(c *ucli.Context) (codec.Authenticator, string, error) {
	tokenFile := c.String(flagAuthTokenFile)
	jwksURL, jwksFile := c.String(flagAuthJWKSURL), c.String(flagAuthJWKSFile)
	issuer, audience := c.String(flagAuthIssuer), c.String(flagAuthAudience)
	if c.Bool(flagNoAuth) {
		for _, f := range []string{flagAuthTokenFile, flagAuthJWKSURL, flagAuthJWKSFile, flagAuthIssuer, flagAuthAudience} {
			if c.IsSet(f) {
				return nil, "", Usagef("--%s and --%s: use one", flagNoAuth, f)
			}
		}
		return codec.NoAuth(), "none (--" + flagNoAuth + ")", nil
	}
	var as []codec.Authenticator
	var desc []string
	if tokenFile != "" {
		t, err := codec.LoadTokens(tokenFile)
		if err != nil {
			return nil, "", Usagef("--%s: %v", flagAuthTokenFile, err)
		}
		as = append(as, t)
		desc = append(desc, "tokens "+strings.Join(t.Names(), ", "))
	}
	switch {
	case jwksURL != "" && jwksFile != "":
		return nil, "", Usagef("--%s and --%s: use one", flagAuthJWKSURL, flagAuthJWKSFile)
	case jwksURL == "" && jwksFile == "":
		if issuer != "" || audience != "" {
			return nil, "", Usagef("--%s and --%s check JWTs: set --%s (or --%s) too", flagAuthIssuer, flagAuthAudience, flagAuthJWKSURL, flagAuthJWKSFile)
		}
	default:
		if issuer == "" || audience == "" {
			return nil, "", Usagef("a JWKS needs --%s and --%s: without them any token the keys sign would do", flagAuthIssuer, flagAuthAudience)
		}
		var jwks *codec.JWKS
		var err error
		if jwksURL != "" {
			if err := checkJWKSURL(jwksURL); err != nil {
				return nil, "", err
			}
			jwks, err = codec.FetchJWKS(c.Context, jwksURL, nil)
			if err != nil {
				return nil, "", Usagef("--%s: %v", flagAuthJWKSURL, err)
			}
		} else if jwks, err = codec.LoadJWKSFile(jwksFile); err != nil {
			return nil, "", Usagef("--%s: %v", flagAuthJWKSFile, err)
		}
		v, err := codec.NewJWTVerifier(codec.JWTConfig{Issuer: issuer, Audience: audience, Keys: jwks})
		if err != nil {
			return nil, "", Usagef("%v", err)
		}
		as = append(as, v)
		desc = append(desc, fmt.Sprintf("JWTs of %s for %s", issuer, audience))
	}
	if len(as) == 0 {
		return nil, "", Usagef("the codec server decrypts every payload for whoever calls it, so it needs authentication: set --%s FILE (lines NAME TOKEN, mode 600), or --%s URL with --%s and --%s for the Web UI's access tokens; on a loopback address, --%s serves without (a developer's machine only)",
			flagAuthTokenFile, flagAuthJWKSURL, flagAuthIssuer, flagAuthAudience, flagNoAuth)
	}
	return codec.AnyOf(as...), strings.Join(desc, "; "), nil
}

// checkJWKSURL wants https, or http to a loopback address (a test issuer).
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return Usagef("--%s %q: not an absolute URL", flagAuthJWKSURL, raw)
	}
	if u.Scheme == "https" {
		return nil
	}
	if ip := net.ParseIP(u.Hostname()); u.Scheme == "http" && (u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())) {
		return nil
	}
	return Usagef("--%s %q: want https (the keys decide whose tokens decrypt)", flagAuthJWKSURL, raw)
}

// codecTLS loads the certificate and key of --tls-cert-file and
// --tls-key-file; nil when neither is set.
func codecTLS(c *ucli.Context) (*tls.Config, error) {
	cert, key := c.String(flagTLSCertFile), c.String(flagTLSKeyFile)
	if cert == "" && key == "" {
		return nil, nil
	}
	if cert == "" || key == "" {
		return nil, Usagef("--%s and --%s go together", flagTLSCertFile, flagTLSKeyFile)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, Usagef("--%s, --%s: %v", flagTLSCertFile, flagTLSKeyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
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
