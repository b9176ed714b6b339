//go:build integration

package codec_test

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hoist-dev/hoist/codec"
	"github.com/hoist-dev/hoist/internal/testbed"
)

const echoWorkflow = "codec-it-echo"

// echo returns its input, or fails with it as the message when it starts
// with "fail:".
func echo(_ workflow.Context, in string) (string, error) {
	if strings.HasPrefix(in, "fail:") {
		return "", temporal.NewApplicationError("refusing "+in, "Refused")
	}
	return "echo " + in, nil
}

// TestEncryptedHistory runs workflows through a client and worker with the
// codec against the dev server and reads the raw history back.
func TestEncryptedHistory(t *testing.T) {
	env := testbed.Load(t)
	line, err := codec.GenerateKey("it-key")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := codec.ParseKeys(line)
	if err != nil {
		t.Fatal(err)
	}
	dc := codec.DataConverter(keys)
	cl, err := client.Dial(client.Options{HostPort: env.Temporal, DataConverter: dc, FailureConverter: codec.FailureConverter(dc)})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	plain, err := client.Dial(client.Options{HostPort: env.Temporal})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()

	queue := "codec-it-" + uuid.NewString()
	w := worker.New(cl, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(echo, workflow.RegisterOptions{Name: echoWorkflow})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	start := func(c client.Client, in string) client.WorkflowRun {
		t.Helper()
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "codec-it/" + uuid.NewString(), TaskQueue: queue}, echoWorkflow, in)
		if err != nil {
			t.Fatal(err)
		}
		return run
	}

	t.Run("input and result", func(t *testing.T) {
		secret := "DB_PASSWORD=hunter2-" + uuid.NewString()
		run := start(cl, secret)
		var got string
		if err := run.Get(ctx, &got); err != nil || got != "echo "+secret {
			t.Fatalf("result %q, %v", got, err)
		}
		events := history(ctx, t, cl, run)
		assertNoCleartext(t, events, secret)
		for _, ev := range events {
			if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
				assertEncrypted(t, "input", a.GetInput().GetPayloads()[0].GetMetadata())
			}
			if a := ev.GetWorkflowExecutionCompletedEventAttributes(); a != nil {
				assertEncrypted(t, "result", a.GetResult().GetPayloads()[0].GetMetadata())
			}
		}
		checkTemporalCLI(t, env, keys, run.GetID(), secret)
	})

	t.Run("failure message", func(t *testing.T) {
		secret := "fail:TOKEN=" + uuid.NewString()
		run := start(cl, secret)
		err := run.Get(ctx, nil)
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || !strings.Contains(app.Error(), secret) || app.Type() != "Refused" {
			t.Fatalf("error %v: want the decrypted application error", err)
		}
		events := history(ctx, t, cl, run)
		assertNoCleartext(t, events, secret)
		for _, ev := range events {
			if a := ev.GetWorkflowExecutionFailedEventAttributes(); a != nil {
				f := a.GetFailure()
				if f.GetMessage() != "Encoded failure" {
					t.Errorf("failure message in history: %q", f.GetMessage())
				}
				assertEncrypted(t, "failure attributes", f.GetEncodedAttributes().GetMetadata())
			}
		}
	})

	// A client without keys (hoist before encryption) is still served by
	// an encrypting worker, and the check above does see cleartext.
	t.Run("cleartext start still runs", func(t *testing.T) {
		secret := "PLAIN=" + uuid.NewString()
		run := start(plain, secret)
		var got string
		if err := cl.GetWorkflow(ctx, run.GetID(), run.GetRunID()).Get(ctx, &got); err != nil || got != "echo "+secret {
			t.Fatalf("result %q, %v", got, err)
		}
		found := false
		for _, ev := range history(ctx, t, cl, run) {
			b, _ := ev.Marshal()
			found = found || bytes.Contains(b, []byte(secret))
		}
		if !found {
			t.Fatal("the cleartext input is not in the history: the cleartext check proves nothing")
		}
	})
}

func history(ctx context.Context, t *testing.T, c client.Client, run client.WorkflowRun) []*historypb.HistoryEvent {
	t.Helper()
	var events []*historypb.HistoryEvent
	it := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	if len(events) == 0 {
		t.Fatal("empty history")
	}
	return events
}

func assertNoCleartext(t *testing.T, events []*historypb.HistoryEvent, secret string) {
	t.Helper()
	for _, ev := range events {
		b, err := ev.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		// The secret's distinctive tail, in case a converter quotes it.
		if bytes.Contains(b, []byte(secret[len(secret)-36:])) {
			t.Errorf("event %d (%s) holds the cleartext", ev.GetEventId(), ev.GetEventType())
		}
	}
}

func assertEncrypted(t *testing.T, what string, md map[string][]byte) {
	t.Helper()
	if string(md[codec.MetadataEncoding]) != codec.EncodingEncrypted || string(md[codec.MetadataKeyID]) != "it-key" {
		t.Errorf("%s metadata: encoding %q, key %q", what, md[codec.MetadataEncoding], md[codec.MetadataKeyID])
	}
}

// checkTemporalCLI reads the history with the temporal CLI: without a codec
// endpoint the result is shown encrypted; through codec.Handler with a
// token (--codec-auth), in cleartext; without the token, never.
func checkTemporalCLI(t *testing.T, env testbed.Env, keys *codec.Keyring, id, secret string) {
	t.Helper()
	if env.TemporalBin == "" {
		t.Log("no temporal CLI in the test bed: codec endpoint not checked")
		return
	}
	const token = "it-token-" + "0123456789abcdef"
	tokens, err := codec.ParseTokens("temporal-cli " + token + "\n")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(codec.Handler(keys, codec.ServerOptions{Auth: tokens}))
	defer srv.Close()
	run := func(extra ...string) (string, error) {
		args := append([]string{"workflow", "show", "--address", env.Temporal, "-w", id}, extra...)
		out, err := exec.Command(env.TemporalBin, args...).CombinedOutput()
		return string(out), err
	}
	show := func(extra ...string) string {
		out, err := run(extra...)
		if err != nil {
			t.Fatalf("temporal workflow show %s: %v\n%s", strings.Join(extra, " "), err, out)
		}
		return out
	}
	if out := show(); strings.Contains(out, secret) || !strings.Contains(out, codec.EncodingEncrypted) {
		t.Errorf("temporal workflow show without a codec endpoint:\n%s", out)
	}
	if out := show("--codec-endpoint", srv.URL, "--codec-auth", "Bearer "+token); !strings.Contains(out, "echo "+secret) {
		t.Errorf("temporal workflow show --codec-endpoint --codec-auth does not show the decrypted result:\n%s", out)
	}
	// Refused (401): the CLI fails or shows the payloads as they are.
	for _, auth := range [][]string{nil, {"--codec-auth", "Bearer wrong-" + token}} {
		if out, _ := run(append([]string{"--codec-endpoint", srv.URL}, auth...)...); strings.Contains(out, secret) {
			t.Errorf("temporal workflow show --codec-endpoint %v decrypted without the token:\n%s", auth, out)
		}
	}
}
