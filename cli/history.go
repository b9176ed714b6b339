package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	ucli "github.com/urfave/cli/v2"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/workflows"
)

const (
	defaultHistoryLimit = 20
	maxHistoryLimit     = 1000
	// historyReaders is how many runs are read from Temporal at once.
	historyReaders = 8
	// historyHosts is how many host names a text line shows.
	historyHosts = 4
)

func historyCommand(s Streams) *ucli.Command {
	return &ucli.Command{
		Name:  "history",
		Usage: "list the past deploys and rollbacks of the service and environment: when, what, who, outcome, hosts, Web UI link",
		Description: `Lists the deploys and rollbacks of hoist.yml's service and environment
that Temporal still keeps (its namespace retention decides how far back),
newest first, from the deploy lock's workflow runs
(deploy/SERVICE[/ENVIRONMENT]):

  STARTED  when it started (UTC) and TOOK, how long it ran
  KIND     deploy or rollback
  VERSION  the release deployed, or rolled back to
  OUTCOME  deployed, warning, rolled back, failed, mixed, cancelled or
           unsafe, read from the run's result as hoist deploy reports it
           (see --help's exit codes); running, terminated or timed out
           from the run's status alone
  BY       who started it (user@host, recorded by hoist deploy and
           rollback; "-" for runs from before hoist recorded it)
  HOSTS    the hosts it covered (and the --hosts pattern, when limited)
  WEB UI   the run in the Temporal Web UI (--ui-url)

Each run costs two small reads of its history (its input and its end):
--limit bounds them. With payloads encrypted, the same keys are needed as
for deploying (see hoist codec-key). --output json prints the same as a
list of objects.`,
		Flags: []ucli.Flag{configFlag, uiURLFlag, outputFlag,
			&ucli.IntFlag{Name: "limit", Value: defaultHistoryLimit, Usage: fmt.Sprintf("list at most this many runs, 1 to %d", maxHistoryLimit)},
		},
		Action: func(c *ucli.Context) error {
			asJSON, err := jsonOutput(c)
			if err != nil {
				return err
			}
			limit := c.Int("limit")
			if limit < 1 || limit > maxHistoryLimit {
				return Usagef("--limit: want 1 to %d, got %d", maxHistoryLimit, limit)
			}
			return withService(c, s, func(spec *config.Spec, cl client.Client) error {
				entries, problems, err := readHistory(c, cl, spec, limit)
				if err != nil {
					return err
				}
				if asJSON {
					if err := writeJSON(s.Out, entries); err != nil {
						return err
					}
				} else {
					printHistory(s.Out, spec, entries, time.Now())
				}
				for _, p := range problems {
					fmt.Fprintf(s.Err, "hoist: warning: %s\n", p)
				}
				return nil
			})
		},
	}
}

// historyEntry is one deploy or rollback, as hoist history shows it and
// --output json prints it. Fields are only ever added.
type historyEntry struct {
	WorkflowID string     `json:"workflow_id"`
	RunID      string     `json:"run_id"`
	Kind       string     `json:"kind"` // deploy or rollback; "" when its input could not be read
	Version    string     `json:"version"`
	Started    time.Time  `json:"started"`
	Closed     *time.Time `json:"closed"` // null while it runs
	Status     string     `json:"status"` // Temporal's: running, completed, failed, canceled, terminated, timed_out, ...
	// Outcome is deploy's --output json outcome for a run that ended
	// with a result or a deploy failure; else running, terminated or
	// timed out.
	Outcome string   `json:"outcome"`
	By      string   `json:"by"` // user@host; "" for a run from before hoist recorded it
	Hosts   []string `json:"hosts"`
	Limited string   `json:"limited"` // the --hosts pattern; "" for every host
	Link    string   `json:"link"`
}

// historyQuery selects the runs of the deploy lock of service and
// environment.
func historyQuery(service, environment string) string {
	return fmt.Sprintf("WorkflowId = %s AND WorkflowType = %s",
		queryString(workflows.DeployWorkflowID(service, environment)), queryString(workflows.DeployWorkflowName))
}

// queryString quotes s for a visibility query.
func queryString(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

// readHistory lists the newest runs, then reads each run's input and
// end, several at once. problems says what could not be read, run by run;
// the entry then shows what visibility alone knows.
func readHistory(c *ucli.Context, cl client.Client, spec *config.Spec, limit int) ([]historyEntry, []string, error) {
	ctx := c.Context
	query := historyQuery(spec.Service, spec.EnvironmentName())
	var infos []*workflowpb.WorkflowExecutionInfo
	var token []byte
	for len(infos) < limit {
		resp, err := cl.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: c.String(flagNamespace), PageSize: int32(limit - len(infos)), NextPageToken: token, Query: query})
		if err != nil {
			return nil, nil, fmt.Errorf("listing the deploys of %s (%s) in namespace %s: %w", spec.Service, spec.EnvironmentName(), c.String(flagNamespace), err)
		}
		infos = append(infos, resp.GetExecutions()...)
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	if len(infos) > limit {
		infos = infos[:limit]
	}
	slices.SortStableFunc(infos, func(a, b *workflowpb.WorkflowExecutionInfo) int {
		return b.GetStartTime().AsTime().Compare(a.GetStartTime().AsTime())
	})
	r := historyReader{cl: cl, dc: dataConverter(c), ns: c.String(flagNamespace)}
	entries := make([]historyEntry, len(infos))
	problems := make([]string, len(infos))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(historyReaders, len(infos)) {
		wg.Go(func() {
			for i := range next {
				entries[i], problems[i] = r.entry(ctx, infos[i])
				entries[i].Link = workflowLink(c, entries[i].WorkflowID, entries[i].RunID)
			}
		})
	}
	for i := range infos {
		next <- i
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	var said []string
	for _, p := range problems {
		if p != "" {
			said = append(said, p)
		}
	}
	return entries, said, nil
}

type historyReader struct {
	cl client.Client
	dc converter.DataConverter
	ns string
}

// entry reads one run: visibility's record, the run's input (its first
// event only) and, once it has ended with a result or a deploy failure,
// its end (the close event only).
func (r historyReader) entry(ctx context.Context, info *workflowpb.WorkflowExecutionInfo) (historyEntry, string) {
	ex := info.GetExecution()
	e := historyEntry{WorkflowID: ex.GetWorkflowId(), RunID: ex.GetRunId(), Started: info.GetStartTime().AsTime().UTC(),
		Status: statusName(info.GetStatus()), Hosts: []string{}}
	if info.GetCloseTime() != nil {
		closed := info.GetCloseTime().AsTime().UTC()
		e.Closed = &closed
	}
	if p := info.GetMemo().GetFields()[workflows.MemoBy]; p != nil {
		_ = r.dc.FromPayload(p, &e.By) // unreadable: shown as not recorded
	}
	if p := info.GetSearchAttributes().GetIndexedFields()[workflows.VersionAttribute.GetName()]; p != nil {
		// Search attributes are never encrypted.
		_ = converter.GetDefaultDataConverter().FromPayload(p, &e.Version)
	}
	var problems []string
	in, err := r.input(ctx, ex)
	if err != nil {
		problems = append(problems, fmt.Sprintf("run %s of %s: reading its input: %v", e.RunID, e.WorkflowID, err))
	} else {
		e.Kind, e.Version, e.Limited = or(in.Kind, workflows.KindDeploy), or(in.Version, e.Version), in.Limited
		for _, h := range in.Spec.Hosts {
			e.Hosts = append(e.Hosts, h.String())
		}
	}
	switch info.GetStatus() {
	case enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, enums.WORKFLOW_EXECUTION_STATUS_FAILED, enums.WORKFLOW_EXECUTION_STATUS_CANCELED:
		var res workflows.DeployResult
		err := r.cl.GetWorkflow(ctx, e.WorkflowID, e.RunID).Get(ctx, &res)
		end := conclude(in, &res, err)
		e.Outcome = end.outcome
		if end.err == nil {
			e.Kind, e.Version = or(end.kind, e.Kind), or(end.version, e.Version)
			break
		}
		// An end that is no deploy's result or failure (an input refused
		// before any host): the status says how it closed.
		e.Outcome = e.Status
		var app *temporal.ApplicationError
		if !errors.As(err, &app) {
			// One hoist cannot read: encrypted without the keys.
			problems = append(problems, fmt.Sprintf("run %s of %s: reading how it ended: %v", e.RunID, e.WorkflowID, err))
		}
	case enums.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		e.Outcome = "timed out"
	default:
		e.Outcome = strings.ReplaceAll(e.Status, "_", " ")
	}
	return e, strings.Join(problems, "; ")
}

// input is the run's DeployInput, from its first event alone.
func (r historyReader) input(ctx context.Context, ex *commonpb.WorkflowExecution) (workflows.DeployInput, error) {
	resp, err := r.cl.WorkflowService().GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace: r.ns, Execution: ex, MaximumPageSize: 1})
	if err != nil {
		return workflows.DeployInput{}, err
	}
	events := resp.GetHistory().GetEvents()
	if len(events) == 0 || events[0].GetWorkflowExecutionStartedEventAttributes() == nil {
		return workflows.DeployInput{}, errors.New("its history does not start with the workflow's start")
	}
	var in workflows.DeployInput
	if err := r.dc.FromPayloads(events[0].GetWorkflowExecutionStartedEventAttributes().GetInput(), &in); err != nil {
		return workflows.DeployInput{}, err
	}
	return in, nil
}

// statusName is "completed", "timed_out": Temporal's status, short.
func statusName(st enums.WorkflowExecutionStatus) string {
	name, ok := enums.WorkflowExecutionStatus_name[int32(st)]
	if !ok {
		return fmt.Sprint(int32(st))
	}
	return strings.ToLower(strings.TrimPrefix(name, "WORKFLOW_EXECUTION_STATUS_"))
}

// printHistory prints entries as a table, newest first.
func printHistory(w io.Writer, spec *config.Spec, entries []historyEntry, now time.Time) {
	if len(entries) == 0 {
		fmt.Fprintf(w, "No deploys or rollbacks of %s (%s environment) in Temporal.\n", spec.Service, spec.EnvironmentName())
		return
	}
	fmt.Fprintf(w, "%s (%s environment): %s, newest first\n", spec.Service, spec.EnvironmentName(), runsText(len(entries)))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tTOOK\tKIND\tVERSION\tOUTCOME\tBY\tHOSTS\tWEB UI")
	for _, e := range entries {
		took := "-"
		if e.Closed != nil {
			took = e.Closed.Sub(e.Started).Round(time.Second).String()
		} else if e.Status == "running" && now.After(e.Started) {
			took = now.Sub(e.Started).Round(time.Second).String() + " so far"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Started.Format("2006-01-02 15:04:05Z"), took,
			or(e.Kind, "-"), or(e.Version, "-"), or(e.Outcome, "-"), or(e.By, "-"), hostsText(e), e.Link)
	}
	tw.Flush()
}

// runsText is "1 deploy or rollback", "3 deploys and rollbacks".
func runsText(n int) string {
	if n == 1 {
		return "1 deploy or rollback"
	}
	return fmt.Sprintf("%d deploys and rollbacks", n)
}

// hostsText is "h1,h2,h3,h4 +8", with the --hosts pattern when limited.
func hostsText(e historyEntry) string {
	if len(e.Hosts) == 0 {
		return "-"
	}
	shown := e.Hosts[:min(len(e.Hosts), historyHosts)]
	t := strings.Join(shown, ",")
	if more := len(e.Hosts) - len(shown); more > 0 {
		t += fmt.Sprintf(" +%d", more)
	}
	if e.Limited != "" {
		t += " (--hosts " + e.Limited + ")"
	}
	return t
}
