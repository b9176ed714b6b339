package cli

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	ucli "github.com/urfave/cli/v2"
	"go.temporal.io/sdk/converter"

	"github.com/hoist-dev/hoist/codec"
)

func writeKeyFile(t *testing.T, mode os.FileMode, ids ...string) string {
	t.Helper()
	var b strings.Builder
	for _, id := range ids {
		line, err := codec.GenerateKey(id)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(line + "\n")
	}
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCodecKey(t *testing.T) {
	code, out, errOut := run(t, "codec-key")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !regexp.MustCompile(`^hoist-\d{8}:[A-Za-z0-9+/]{43}=\n$`).MatchString(out) {
		t.Fatalf("output %q", out)
	}
	if _, err := codec.ParseKeys(out); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, "codec-key", "--id", "prod-2")
	if code != ExitOK || !strings.HasPrefix(out, "prod-2:") {
		t.Fatalf("--id: exit %d, output %q", code, out)
	}
	if code, _, _ := run(t, "codec-key", "--id", "a b"); code != ExitUsage {
		t.Fatalf("bad --id: exit %d", code)
	}
}

func TestHelpMentionsCodecKeyFile(t *testing.T) {
	_, out, _ := run(t, "--help")
	for _, s := range []string{"--codec-key-file", "HOIST_CODEC_KEY_FILE", "HOIST_CODEC_KEYS", "codec-server", "codec-key"} {
		if !strings.Contains(out, s) {
			t.Errorf("--help does not mention %s", s)
		}
	}
}

func TestBadKeysAreUsageErrors(t *testing.T) {
	good := writeKeyFile(t, 0o600, "k1")
	open := writeKeyFile(t, 0o644, "k1")
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("k1:AAAA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"open file, worker", nil, []string{"--codec-key-file", open, "worker"}, "too open"},
		{"open file, codec-server", nil, []string{"--codec-key-file", open, "codec-server"}, "too open"},
		{"malformed file", nil, []string{"--codec-key-file", bad, "worker"}, "line 1"},
		{"missing file", nil, []string{"--codec-key-file", bad + ".nope", "worker"}, "no such file"},
		{"file from env", map[string]string{"HOIST_CODEC_KEY_FILE": open}, []string{"worker"}, "too open"},
		{"malformed env", map[string]string{envCodecKeys: "k1:AAAA"}, []string{"worker"}, envCodecKeys + ": line 1"},
		{"empty env", map[string]string{envCodecKeys: ""}, []string{"worker"}, "no keys"},
		{"both", map[string]string{envCodecKeys: "x"}, []string{"--codec-key-file", good, "worker"}, "use one"},
		{"codec-server without keys", nil, []string{"codec-server"}, "needs the payload keys"},
		{"codec-server bad origin", nil, []string{"--codec-key-file", good, "codec-server", "--allow-origin", "localhost:8233"}, "--allow-origin"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			code, _, errOut := run(t, c.args...)
			if code != ExitUsage || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut, ExitUsage, c.want)
			}
		})
	}
}

// optionsFor runs the app's global flags with args and returns what
// clientOptions builds.
func optionsFor(t *testing.T, args ...string) (encrypted bool, err error) {
	t.Helper()
	app := NewApp(Streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	app.Commands = nil
	app.Action = func(c *ucli.Context) error {
		opts, keys, err := clientOptions(c, nil)
		if err != nil {
			return err
		}
		if (keys != nil) != (opts.FailureConverter != nil) {
			t.Errorf("keys %v but FailureConverter %v", keys, opts.FailureConverter)
		}
		checkConverter(t, opts.DataConverter, keys)
		if opts.HostPort != "tb:7233" || opts.Namespace != "ns" {
			t.Errorf("HostPort %q, Namespace %q", opts.HostPort, opts.Namespace)
		}
		encrypted = keys != nil
		return nil
	}
	err = app.Run(append([]string{"hoist", "--temporal-address", "tb:7233", "--namespace", "ns"}, args...))
	return encrypted, err
}

func TestClientOptions(t *testing.T) {
	if enc, err := optionsFor(t); err != nil || enc {
		t.Fatalf("no keys: encrypted %v, err %v", enc, err)
	}
	if enc, err := optionsFor(t, "--codec-key-file", writeKeyFile(t, 0o600, "k1")); err != nil || !enc {
		t.Fatalf("key file: encrypted %v, err %v", enc, err)
	}
	line, _ := codec.GenerateKey("k1")
	t.Setenv(envCodecKeys, line)
	if enc, err := optionsFor(t); err != nil || !enc {
		t.Fatalf("%s: encrypted %v, err %v", envCodecKeys, enc, err)
	}
}

func TestCodecServer(t *testing.T) {
	keyFile := writeKeyFile(t, 0o600, "k1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errR, errW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"hoist", "--codec-key-file", keyFile, "codec-server", "--listen", "127.0.0.1:0", "--no-auth", "--allow-origin", "http://ui.test:8233"},
			Streams{In: strings.NewReader(""), Out: io.Discard, Err: errW})
		errW.Close()
	}()
	sc := bufio.NewScanner(errR)
	if !sc.Scan() {
		t.Fatal("codec-server printed nothing")
	}
	m := regexp.MustCompile(`codec server on (http://\S+) `).FindStringSubmatch(sc.Text())
	if m == nil {
		t.Fatalf("first line %q", sc.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, errR) }()
	base := m[1]

	resp, err := http.Post(base+"/encode", "application/json", strings.NewReader(`{"payloads":[{"metadata":{"encoding":"anNvbi9wbGFpbg=="},"data":"InNlY3JldCI="}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "YmluYXJ5L2VuY3J5cHRlZA==") { // binary/encrypted
		t.Fatalf("/encode: %s %s", resp.Status, body)
	}

	// --allow-origin replaces the defaults.
	for origin, want := range map[string]string{"http://ui.test:8233": "http://ui.test:8233", "http://localhost:8233": ""} {
		req, _ := http.NewRequest(http.MethodOptions, base+"/decode", nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode != http.StatusOK || got != want {
			t.Errorf("preflight from %s: %s, Allow-Origin %q, want %q", origin, resp.Status, got, want)
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Fatalf("exit %d after interrupt", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("codec-server did not stop")
	}
}

// checkConverter checks dc encrypts when there are keys, and otherwise
// leaves payloads alone but names the fix for an encrypted one.
func checkConverter(t *testing.T, dc converter.DataConverter, keys *codec.Keyring) {
	t.Helper()
	p, err := dc.ToPayload("x")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p.Metadata[codec.MetadataEncoding]); (got == codec.EncodingEncrypted) != (keys != nil) {
		t.Errorf("keys %v: payload encoding %q", keys, got)
	}
	if keys != nil {
		return
	}
	line, _ := codec.GenerateKey("k9")
	k, _ := codec.ParseKeys(line)
	enc, err := codec.DataConverter(k).ToPayload("x")
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := dc.FromPayload(enc, &s); err == nil || !strings.Contains(err.Error(), `encrypted (key "k9")`) || !strings.Contains(err.Error(), "--codec-key-file") {
		t.Errorf("decoding an encrypted payload without keys: %v", err)
	}
}
