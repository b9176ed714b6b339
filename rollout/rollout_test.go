package rollout

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestCounts(t *testing.T) {
	canary := []Size{Count(1), Percent(25), Percent(100)}
	cases := []struct {
		name  string
		total int
		sizes []Size
		want  []int
	}{
		{"25% of 3 hosts rounds up to 1", 3, []Size{Percent(25)}, []int{1, 1, 1}},
		{"30% of 3 hosts rounds up to 1", 3, []Size{Percent(30)}, []int{1, 1, 1}},
		{"34% of 3 hosts rounds up to 2", 3, []Size{Percent(34)}, []int{2, 1}},
		{"1% of 3 hosts is at least 1", 3, []Size{Percent(1)}, []int{1, 1, 1}},
		{"0% is at least 1", 3, []Size{Percent(0)}, []int{1, 1, 1}},
		{"100% is every host", 3, []Size{Percent(100)}, []int{3}},
		{"a count larger than the fleet takes the fleet", 3, []Size{Count(10)}, []int{3}},
		{"a later size larger than what is left takes what is left", 3, []Size{Count(1), Count(5)}, []int{1, 2}},
		{"sizes after every host is placed are unused", 2, []Size{Count(1), Count(1), Count(1), Count(1)}, []int{1, 1}},
		{"the last size repeats", 7, []Size{Count(1), Count(2)}, []int{1, 2, 2, 2}},
		{"the last percentage repeats", 10, []Size{Count(1), Percent(25)}, []int{1, 3, 3, 3}},
		{"canary on 1 host", 1, canary, []int{1}},
		{"canary on 3 hosts", 3, canary, []int{1, 1, 1}},
		{"canary on 4 hosts", 4, canary, []int{1, 1, 2}},
		{"canary on 10 hosts", 10, canary, []int{1, 3, 6}},
		{"canary on 24 hosts", 24, canary, []int{1, 6, 17}},
		{"single host, 100%", 1, []Size{Percent(100)}, []int{1}},
		{"single host, a count of 5", 1, []Size{Count(5)}, []int{1}},
		{"no sizes: one host at a time", 3, nil, []int{1, 1, 1}},
		{"no hosts: no batches", 0, canary, nil},
		{"a count of 0 is at least 1", 2, []Size{Count(0)}, []int{1, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Counts(c.total, c.sizes)
			if !slices.Equal(got, c.want) {
				t.Fatalf("Counts(%d, %v) = %v, want %v", c.total, c.sizes, got, c.want)
			}
			sum := 0
			for _, n := range got {
				if n < 1 {
					t.Fatalf("an empty batch in %v", got)
				}
				sum += n
			}
			if sum != c.total {
				t.Fatalf("%v places %d hosts, want %d", got, sum, c.total)
			}
		})
	}
}

func TestBatchesKeepOrder(t *testing.T) {
	hosts := []string{"h1", "h2", "h3", "h4"}
	got := Batches(hosts, []Size{Count(1), Percent(25), Percent(100)})
	if fmt.Sprint(got) != "[[h1] [h2] [h3 h4]]" {
		t.Fatalf("got %v", got)
	}
	// A batch is its own slice: appending to one leaves the next alone.
	_ = append(got[0], "x")
	if got[1][0] != "h2" {
		t.Fatalf("batches share storage: %v", got)
	}
	if got := Batches(hosts, nil); fmt.Sprint(got) != "[[h1] [h2] [h3] [h4]]" {
		t.Fatalf("no sizes: %v", got)
	}
}

func TestBudgetOf(t *testing.T) {
	cases := []struct {
		s     Size
		total int
		want  int
	}{
		{Count(0), 10, 0},
		{Count(2), 10, 2},
		{Count(20), 10, 20}, // more than the fleet: never stops for failures
		{Percent(10), 5, 0}, // 0.5 rounds down: a small fleet tolerates none
		{Percent(10), 10, 1},
		{Percent(10), 19, 1},
		{Percent(10), 20, 2},
		{Percent(50), 3, 1},
		{Percent(100), 3, 3},
		{Percent(0), 200, 0},
	}
	for _, c := range cases {
		if got := c.s.BudgetOf(c.total); got != c.want {
			t.Errorf("%s of %d hosts: %d, want %d", c.s, c.total, got, c.want)
		}
	}
}

func TestParallel(t *testing.T) {
	for _, c := range []struct{ max, size, want int }{
		{0, 6, 6}, {10, 6, 6}, {2, 6, 2}, {1, 1, 1}, {6, 6, 6},
	} {
		if got := Parallel(c.max, c.size); got != c.want {
			t.Errorf("Parallel(%d, %d) = %d, want %d", c.max, c.size, got, c.want)
		}
	}
}

func TestParsePercent(t *testing.T) {
	for v, want := range map[string]Size{"25%": Percent(25), "0%": Percent(0), "100%": Percent(100), "007%": Percent(7)} {
		got, err := ParsePercent(v)
		if err != nil || got != want {
			t.Errorf("ParsePercent(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"", "%", "25", "3", "101%", "1000%", "-5%", "+5%", "12.5%", " 25%", "25 %", "25%%", "0x10%", "٣%"} {
		if got, err := ParsePercent(v); err == nil {
			t.Errorf("ParsePercent(%q) accepted as %v", v, got)
		}
	}
}

func TestSizeJSON(t *testing.T) {
	in := []Size{Count(1), Percent(25), Count(0), Percent(100)}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != `[1,"25%",0,"100%"]` {
		t.Fatalf("JSON %s", data)
	}
	var back []Size
	if err := json.Unmarshal(data, &back); err != nil || !slices.Equal(back, in) {
		t.Fatalf("round trip: %v %v", back, err)
	}
	for _, bad := range []string{`"3"`, `1.5`, `true`, `{}`, `[1]`, `"200%"`, `null1`} {
		var s Size
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("accepted %s as %v", bad, s)
		} else if strings.Contains(err.Error(), "panic") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
