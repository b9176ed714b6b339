// Command firstrun reads `temporal workflow list -o json` on stdin and
// prints "workflowId runId" of the first (newest) execution, for
// scripts/record-histories.sh, so the script needs no jq or python.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	exclude := flag.String("exclude", "", "skip workflow IDs containing this")
	flag.Parse()
	var runs []struct {
		Execution struct {
			WorkflowID string `json:"workflowId"`
			RunID      string `json:"runId"`
		} `json:"execution"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&runs); err != nil {
		fmt.Fprintln(os.Stderr, "firstrun:", err)
		os.Exit(1)
	}
	for _, r := range runs {
		if *exclude != "" && strings.Contains(r.Execution.WorkflowID, *exclude) {
			continue
		}
		fmt.Println(r.Execution.WorkflowID, r.Execution.RunID)
		return
	}
}
