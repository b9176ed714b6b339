package notify

import (
	"slices"
	"testing"
)

func TestParseEvents(t *testing.T) {
	got, err := ParseEvents([]string{"failed", "started", "awaiting_approval", "rolled_back", "succeeded"})
	if err != nil || !slices.Equal(got, []Event{EventFailed, EventStarted, EventAwaitingApproval, EventRolledBack, EventSucceeded}) {
		t.Fatalf("%v %v", got, err)
	}
	refused := map[string][]string{
		`unknown event "deployed" (want one of started, awaiting_approval, failed, rolled_back, succeeded)`: {"started", "deployed"},
		`unknown event "Failed" (want one of started, awaiting_approval, failed, rolled_back, succeeded)`:   {"Failed"},
		`event "failed" is listed twice`: {"failed", "succeeded", "failed"},
		"no events listed (want one or more of started, awaiting_approval, failed, rolled_back, succeeded)": nil,
	}
	for want, names := range refused {
		if _, err := ParseEvents(names); err == nil || err.Error() != want {
			t.Errorf("%q: got %v, want %s", names, err, want)
		}
	}
	for _, e := range Events() {
		if p, err := ParseEvent(string(e)); err != nil || p != e {
			t.Errorf("%s: %v", e, err)
		}
	}
	if Event("").Valid() {
		t.Fatal("the empty event is valid")
	}
}
