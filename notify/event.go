package notify

import (
	"fmt"
	"slices"
	"strings"
)

// Event is a moment of a deploy a notification can be sent for. Its value
// is the name hoist.yml's notify.on lists.
type Event string

// The events, as hoist.yml names them.
const (
	EventStarted          Event = "started"
	EventAwaitingApproval Event = "awaiting_approval"
	EventFailed           Event = "failed"
	EventRolledBack       Event = "rolled_back"
	EventSucceeded        Event = "succeeded"
)

// Events lists every event, in the order a deploy meets them.
func Events() []Event {
	return []Event{EventStarted, EventAwaitingApproval, EventFailed, EventRolledBack, EventSucceeded}
}

// Valid says whether e is one of Events.
func (e Event) Valid() bool { return slices.Contains(Events(), e) }

// phrase is how the event reads in a chat message's headline.
func (e Event) phrase() string {
	switch e {
	case EventStarted:
		return "started"
	case EventAwaitingApproval:
		return "awaiting approval"
	case EventRolledBack:
		return "rolled back"
	}
	return string(e)
}

func eventList() string {
	names := make([]string, 0, len(Events()))
	for _, e := range Events() {
		names = append(names, string(e))
	}
	return strings.Join(names, ", ")
}

// ParseEvent checks one event name from hoist.yml.
func ParseEvent(name string) (Event, error) {
	if e := Event(name); e.Valid() {
		return e, nil
	}
	return "", fmt.Errorf("unknown event %q (want one of %s)", name, eventList())
}

// ParseEvents checks a notify entry's on: list. An empty list is refused,
// since the entry would never send, and so is an event listed twice, which
// is a typo more often than not.
func ParseEvents(names []string) ([]Event, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("no events listed (want one or more of %s)", eventList())
	}
	out := make([]Event, 0, len(names))
	for _, name := range names {
		e, err := ParseEvent(name)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, e) {
			return nil, fmt.Errorf("event %q is listed twice", name)
		}
		out = append(out, e)
	}
	return out, nil
}
