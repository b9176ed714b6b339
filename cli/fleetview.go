package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hoist-dev/hoist/workflows"
)

// A rollout is shown as one line per host instead of step lines: a fleet
// of 24 hosts deploying 10 at a time interleaves hundreds of steps. The
// renderers below are pure (Fleet → lines); fleetView decides when to
// print them: redrawn in place on a terminal, a plain line per change
// otherwise (CI logs).

// fleetEvery is how often a rollout's progress is asked for: each tick
// also asks the children of the hosts being changed for their step.
const fleetEvery = 500 * time.Millisecond

// fleetStateOrder is the order states are counted in: where hosts ended,
// then where they are while the rollout runs.
var fleetStateOrder = []string{
	workflows.StateDeployed, workflows.StateWarning, workflows.StateSkipped, workflows.StateFailed,
	workflows.StateReverted, workflows.StateUnsafe, workflows.StateNotRun,
	workflows.StatePending, workflows.StatePreparing, workflows.StatePrepared, workflows.StateDeploying, workflows.StateReverting,
}

// beingChanged says whether a host is being changed: its child has a
// step to show.
func beingChanged(state string) bool {
	return state == workflows.StatePreparing || state == workflows.StateDeploying || state == workflows.StateReverting
}

// hostStep is the step to show for h: the one its child reported, else
// the one the parent recorded. Only while the host is being changed.
func hostStep(h workflows.FleetHost, steps map[string]string) string {
	if !beingChanged(h.State) {
		return ""
	}
	if s := steps[h.Host]; s != "" {
		return s
	}
	return h.Step
}

// hostText is what the host's line says after its state.
func hostText(h workflows.FleetHost, step string) string {
	detail := firstLine(h.Detail)
	prev := h.Previous
	if prev == "" {
		prev = "(none)"
	}
	switch h.State {
	case workflows.StatePreparing, workflows.StateDeploying, workflows.StateReverting:
		return step
	case workflows.StateDeployed:
		return prev + " → " + h.Runs
	case workflows.StateWarning:
		return join(prev+" → "+h.Runs, detail)
	case workflows.StateSkipped:
		return "already on " + h.Runs
	case workflows.StateFailed:
		if h.Runs != "" {
			return join("back on "+h.Runs, detail)
		}
		return detail
	case workflows.StateReverted:
		if h.Runs != "" {
			return "back on " + h.Runs
		}
		return detail
	case workflows.StateUnsafe:
		return join("NOT back on its previous release", detail)
	case workflows.StatePending, workflows.StatePrepared, workflows.StateNotRun:
		if h.Runs != "" {
			return join("on "+h.Runs, detail)
		}
		return detail
	}
	return detail
}

func join(a, b string) string {
	if b == "" {
		return a
	}
	return a + ": " + b
}

// firstLine is a multi-line cause's first line, marked as cut: the
// closing message carries the whole of it.
func firstLine(s string) string {
	if first, _, cut := strings.Cut(s, "\n"); cut {
		return strings.TrimRight(first, " ") + " …"
	}
	return s
}

// fleetRows is the table: one line per host, config order.
//
//	h1   batch 1  deployed   v1 → v2
//	h2   batch 2  deploying  up
func fleetRows(fl *workflows.Fleet, steps map[string]string) []string {
	width, bw := 0, len(fmt.Sprint(fl.Batches))
	for _, h := range fl.Hosts {
		width = max(width, utf8.RuneCountInString(h.Host))
	}
	rows := make([]string, len(fl.Hosts))
	for i, h := range fl.Hosts {
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(h.Host))
		step := hostStep(h, steps)
		line := fmt.Sprintf("  %s%s   batch %-*d  %-9s  %s", h.Host, pad, bw, h.Batch, shownState(h, step), hostText(h, step))
		rows[i] = strings.TrimRight(line, " ")
	}
	return rows
}

// shownState is the host's state as shown: a host whose new release
// failed is put back by its own child, which the parent still counts as
// deploying until the child ends; its rollback steps say it is reverting.
func shownState(h workflows.FleetHost, step string) string {
	if h.State == workflows.StateDeploying && strings.HasPrefix(step, "rollback: ") {
		return workflows.StateReverting
	}
	return h.State
}

// plainHostLine is a host's change, for output that is not a terminal:
// "h2 batch 2: deploying (up)".
func plainHostLine(h workflows.FleetHost, step string) string {
	line := fmt.Sprintf("%s batch %d: %s", h.Host, h.Batch, shownState(h, step))
	if t := hostText(h, step); t != "" {
		line += " (" + t + ")"
	}
	return line
}

// waitingLine says the rollout waits, until when, and how to answer.
// hint is the -c flag (and any global flag) to give hoist approve.
func waitingLine(w *workflows.ApprovalWait, batches int, hint string, loc *time.Location) string {
	return fmt.Sprintf("⏸ Waiting for approval after batch %d of %d (%s) until %s: hoist approve %s [--note TEXT]  |  hoist reject %s",
		w.AfterBatch, batches, w.Reason, w.Deadline.In(loc).Format("2006-01-02 15:04:05 MST"), hint, hint)
}

// approvalLine is a recorded decision.
func approvalLine(a workflows.Approval) string {
	line := "✘ rejected by " + a.By
	if a.Approve {
		line = "✔ approved by " + a.By
	}
	if a.Batch > 0 {
		line += fmt.Sprintf(" after batch %d", a.Batch)
	}
	if a.Note != "" {
		line += ": " + a.Note
	}
	return line
}

// stateCounts is "2 deployed, 1 failed" over hosts, in fleetStateOrder.
func stateCounts(hosts []workflows.FleetHost) string {
	n := map[string]int{}
	for _, h := range hosts {
		n[h.State]++
	}
	var parts []string
	for _, s := range fleetStateOrder {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	for s := range n { // a state this CLI does not know, from a newer worker
		if !slices.Contains(fleetStateOrder, s) {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	return strings.Join(parts, ", ")
}

// fleetSummary is what a rollout ends with, before the closing line:
// counts, the table, counts per batch, and the --hosts limit. total is
// the service's host count in hoist.yml (0: unknown).
func fleetSummary(fl *workflows.Fleet, total int) []string {
	lines := []string{fmt.Sprintf("Fleet: %s in %s: %s", count(len(fl.Hosts), "host"), count(fl.Batches, "batch"), stateCounts(fl.Hosts))}
	lines = append(lines, fleetRows(fl, nil)...)
	for b := 1; b <= fl.Batches; b++ {
		var in []workflows.FleetHost
		for _, h := range fl.Hosts {
			if h.Batch == b {
				in = append(in, h)
			}
		}
		lines = append(lines, fmt.Sprintf("  batch %d: %s", b, stateCounts(in)))
	}
	if fl.Limited != "" {
		lines = append(lines, limitedSummary(fl.Limited, len(fl.Hosts), total))
	}
	return lines
}

// limitedSummary recalls a --hosts limit at the end.
func limitedSummary(pattern string, kept, total int) string {
	if total <= kept {
		return fmt.Sprintf("⚠ Limited by --hosts '%s' to %s", pattern, count(kept, "host"))
	}
	return fmt.Sprintf("⚠ Limited by --hosts '%s' to %d of %d hosts: the other %d were not touched", pattern, kept, total, total-kept)
}

// fleetView prints a rollout as it goes.
type fleetView struct {
	w     io.Writer
	tty   bool   // redraw the table in place
	width int    // terminal columns; lines are cut to fit so redrawing counts right
	hint  string // flags for hoist approve / reject
	loc   *time.Location

	drawn     int               // table lines on screen (tty)
	frame     []string          // the table as drawn (tty)
	shown     map[string]string // host → its plain line last printed
	waits     map[string]bool   // approval waits announced
	approvals int               // decisions printed
}

func newFleetView(w io.Writer, tty bool, width int, hint string, loc *time.Location) *fleetView {
	return &fleetView{w: w, tty: tty, width: width, hint: hint, loc: loc, shown: map[string]string{}, waits: map[string]bool{}}
}

// notices are the lines printed once: a wait for approval, each decision.
func (v *fleetView) notices(fl *workflows.Fleet) []string {
	var out []string
	for ; v.approvals < len(fl.Approvals); v.approvals++ {
		out = append(out, approvalLine(fl.Approvals[v.approvals]))
	}
	if w := fl.Waiting; w != nil {
		key := fmt.Sprint(w.AfterBatch, "@", w.Since.UnixNano())
		if !v.waits[key] {
			v.waits[key] = true
			out = append(out, waitingLine(w, fl.Batches, v.hint, v.loc))
		}
	}
	return out
}

// update shows fl; steps are the children's current steps by host.
func (v *fleetView) update(fl *workflows.Fleet, steps map[string]string) {
	notices := v.notices(fl)
	if v.tty {
		rows := fleetRows(fl, steps)
		if len(notices) == 0 && slices.Equal(rows, v.frame) {
			return
		}
		v.erase()
		for _, n := range notices {
			fmt.Fprintln(v.w, n)
		}
		v.draw(rows)
		return
	}
	for _, n := range notices {
		fmt.Fprintln(v.w, n)
	}
	v.plainChanges(fl, steps, false)
}

// plainChanges prints a line for each host whose state or step changed
// since its last line; onlyShown: only for hosts with a line already.
func (v *fleetView) plainChanges(fl *workflows.Fleet, steps map[string]string, onlyShown bool) {
	for _, h := range fl.Hosts {
		if _, seen := v.shown[h.Host]; onlyShown && !seen {
			continue
		}
		line := plainHostLine(h, hostStep(h, steps))
		last, seen := v.shown[h.Host]
		if !seen {
			last = plainHostLine(workflows.FleetHost{Host: h.Host, Batch: h.Batch, State: workflows.StatePending}, "")
		}
		if line != last {
			fmt.Fprintln(v.w, line)
		}
		v.shown[h.Host] = line
	}
}

// finish prints the decisions not shown yet and the summary; on a
// terminal the summary takes the table's place.
func (v *fleetView) finish(fl *workflows.Fleet, total int) {
	if v.tty {
		v.erase()
	}
	for _, n := range v.notices(fl) {
		fmt.Fprintln(v.w, n)
	}
	if !v.tty {
		// A host followed line by line gets its last line too (the tick
		// that would have shown it may not come); the summary covers the rest.
		v.plainChanges(fl, nil, true)
	}
	for _, l := range fleetSummary(fl, total) {
		fmt.Fprintln(v.w, l)
	}
}

func (v *fleetView) erase() {
	if v.drawn > 0 {
		fmt.Fprintf(v.w, "\x1b[%dA\x1b[J", v.drawn)
	}
	v.drawn, v.frame = 0, nil
}

func (v *fleetView) draw(rows []string) {
	for _, r := range rows {
		fmt.Fprintln(v.w, fit(r, v.width))
	}
	v.drawn, v.frame = len(rows), rows
}

// fit cuts line to width-1 columns (counting runes), so that no line
// wraps and the cursor-up count stays right. width 0: no cut.
func fit(line string, width int) string {
	if width <= 1 || utf8.RuneCountInString(line) < width {
		return line
	}
	r := []rune(line)
	return string(r[:width-2]) + "…"
}
