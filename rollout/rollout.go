// Package rollout is the arithmetic of a fleet rollout: how many hosts go
// in each batch, which hosts those are, how many may run at once and how
// many may fail. Pure functions of the host count and hoist.yml's rollout
// block, so `hoist plan` and the deploy workflow cannot disagree on them.
package rollout

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// NotRunYet is what a deploy or rollback with a rollout block was told
// before the fleet workflow existed: the block was planned, not run, and a
// deploy must not silently ignore it. The CLI runs rollouts now; the
// workflow still says it, after "rollout: ", when it replays a history
// recorded before the fleet change.
const NotRunYet = "batches are planned by `hoist plan` but not run yet by this hoist; remove the block to deploy host by host"

// Size is a number of hosts as hoist.yml writes it: a count (3), or a
// percentage of ALL hosts of the service ("25%"). It reads and writes in
// JSON as it does in YAML: a number, or a string ending in '%'.
type Size struct {
	N       int  // hosts, or percent when Percent
	Percent bool // N is a percentage of all hosts
}

// Count is a size of n hosts.
func Count(n int) Size { return Size{N: n} }

// Percent is a size of p percent of all hosts.
func Percent(p int) Size { return Size{N: p, Percent: true} }

// String is the size as hoist.yml writes it: 3 or 25%.
func (s Size) String() string {
	if s.Percent {
		return strconv.Itoa(s.N) + "%"
	}
	return strconv.Itoa(s.N)
}

// ParsePercent reads "N%", N a whole number from 0 to 100 written in
// digits only. A plain count is a YAML or JSON number, never a string:
// "3" is refused, as hoist.yml refuses quoted numbers everywhere.
func ParsePercent(v string) (Size, error) {
	digits, ok := strings.CutSuffix(v, "%")
	if !ok || digits == "" || len(digits) > 3 || strings.Trim(digits, "0123456789") != "" {
		return Size{}, fmt.Errorf("want a count (1, 2, ...) or a whole percentage of all hosts (\"25%%\"), got %q", v)
	}
	p, _ := strconv.Atoi(digits)
	if p > 100 {
		return Size{}, fmt.Errorf("want a percentage of at most 100%%, got %q", v)
	}
	return Percent(p), nil
}

// MarshalJSON writes a count as a number and a percentage as "N%".
func (s Size) MarshalJSON() ([]byte, error) {
	if s.Percent {
		return json.Marshal(s.String())
	}
	return json.Marshal(s.N)
}

// UnmarshalJSON reads what MarshalJSON writes, and nothing else.
func (s *Size) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case string:
		p, err := ParsePercent(v)
		if err != nil {
			return err
		}
		*s = p
		return nil
	case float64:
		var n int
		if err := json.Unmarshal(data, &n); err != nil {
			return fmt.Errorf("want a whole number of hosts, got %s", data)
		}
		*s = Count(n)
		return nil
	}
	return errors.New("want a count or a percentage string, got " + string(data))
}

// BatchOf is the batch size s means in a fleet of total hosts: the count,
// or the percentage of total rounded up; at least 1, so that a rollout
// always moves. It may exceed what is left: Counts caps it.
func (s Size) BatchOf(total int) int {
	n := s.N
	if s.Percent {
		n = (s.N*total + 99) / 100
	}
	return max(n, 1)
}

// BudgetOf is the failure budget s means in a fleet of total hosts: the
// count, or the percentage of total rounded DOWN. A budget never allows
// more failed hosts than asked: "10%" of 5 hosts is 0, not 1.
func (s Size) BudgetOf(total int) int {
	if s.Percent {
		return s.N * total / 100
	}
	return max(s.N, 0)
}

// Counts is how many hosts each successive batch takes, for total hosts
// and the batch sizes in order: the last size repeats until every host is
// placed, and a size larger than what is left takes what is left. No
// sizes is one host per batch: hoist's order without a rollout block.
func Counts(total int, sizes []Size) []int {
	if len(sizes) == 0 {
		sizes = []Size{Count(1)}
	}
	var out []int
	for left, i := total, 0; left > 0; i++ {
		n := min(sizes[min(i, len(sizes)-1)].BatchOf(total), left)
		out = append(out, n)
		left -= n
	}
	return out
}

// Batches splits hosts, in their order, into the batches Counts gives.
func Batches[T any](hosts []T, sizes []Size) [][]T {
	var out [][]T
	start := 0
	for _, n := range Counts(len(hosts), sizes) {
		out = append(out, hosts[start:start+n:start+n])
		start += n
	}
	return out
}

// Parallel is how many hosts of a batch of size hosts change at once:
// maxParallel, 0 meaning the whole batch, never more than the batch.
func Parallel(maxParallel, size int) int {
	if maxParallel <= 0 || maxParallel > size {
		return size
	}
	return maxParallel
}
