package activities

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/notify"
)

// ErrNotify is the type of a notification the notifier refused for good
// (a 4xx, a revoked webhook): retrying sends nothing better.
const ErrNotify = "NotifyRefused"

// NotifyInput is one message to one of the worker's notifiers.
type NotifyInput struct {
	To      string         `json:"to"`
	Message notify.Message `json:"message"`
}

// NotifyResult says what became of the message.
type NotifyResult struct {
	// Unconfirmed: an earlier attempt was stopped while sending (its
	// worker died); the message may or may not have arrived, and is not
	// sent again, so that it never arrives twice.
	Unconfirmed bool `json:"unconfirmed,omitempty"`
}

// Heartbeat marks of a notification's attempts.
const (
	notifySending = "sending"
	notifySent    = "sent"
)

// CheckNotifiers refuses names the worker has no notifier for, before a
// deploy touches any host: a typo in hoist.yml's notify list must not
// wait for the first failure to be found.
func (a *Activities) CheckNotifiers(ctx context.Context, names []string) error {
	var set *notify.Set
	if a.Notifier != nil {
		set = a.Notifier.Set
	}
	if err := set.CheckNames(names); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrInvalid, nil)
	}
	return nil
}

// Notify sends one message, at most once per deploy and event. The key
// of the message (deploy run and event) is the webhook's Idempotency-Key;
// chat services have none, so the attempt says on its heartbeat that it
// is sending before it sends, and that it sent after: an attempt that
// follows one stopped mid-send does not send again, and says the
// delivery is unconfirmed instead. The heartbeat before the request is
// the first of the attempt, which the SDK sends at once.
func (a *Activities) Notify(ctx context.Context, in NotifyInput) (NotifyResult, error) {
	if a.Notifier == nil || !a.Notifier.Set.Has(in.To) {
		return NotifyResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("notify %s: this worker has no such notifier (hoist worker --notify-config)", in.To), ErrInvalid, nil)
	}
	if in.Message.Key == "" || !in.Message.Event.Valid() {
		return NotifyResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("notify %s: a message needs an event and a key", in.To), ErrInvalid, nil)
	}
	if activity.HasHeartbeatDetails(ctx) {
		var mark string
		if activity.GetHeartbeatDetails(ctx, &mark) == nil && (mark == notifySending || mark == notifySent) {
			return NotifyResult{Unconfirmed: mark == notifySending}, nil
		}
	}
	m := in.Message
	if m.URL == "" {
		m.URL = a.workflowLink(activity.GetInfo(ctx))
	}
	activity.RecordHeartbeat(ctx, notifySending)
	err := a.Notifier.Send(ctx, in.To, m)
	if err != nil {
		// Nothing went out that counts: the next attempt may send.
		activity.RecordHeartbeat(ctx, "retry")
		if errors.Is(err, notify.ErrPermanent) {
			return NotifyResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrNotify, nil)
		}
		return NotifyResult{}, err
	}
	activity.RecordHeartbeat(ctx, notifySent)
	return NotifyResult{}, nil
}

// workflowLink is the Web UI page of the deploy the activity runs for.
func (a *Activities) workflowLink(info activity.Info) string {
	if a.UIURL == "" {
		return ""
	}
	ns := a.Namespace
	if ns == "" {
		ns = "default"
	}
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/history", strings.TrimRight(a.UIURL, "/"),
		url.PathEscape(ns), url.PathEscape(info.WorkflowExecution.ID), url.PathEscape(info.WorkflowExecution.RunID))
}
