package sshexec

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestTailBuffer(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, max := range []int{1, 7, 64, 1000} {
		for round := 0; round < 50; round++ {
			b := newTailBuffer(max)
			var all []byte
			for w := rng.IntN(20); w > 0; w-- {
				p := make([]byte, rng.IntN(3*max+2))
				for i := range p {
					p[i] = byte('a' + rng.IntN(26))
				}
				n, err := b.Write(p)
				if n != len(p) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
				all = append(all, p...)
			}
			want := all
			if len(want) > max {
				want = want[len(want)-max:]
			}
			if got := b.Bytes(); !bytes.Equal(got, want) {
				t.Fatalf("max %d: tail = %q, want %q", max, got, want)
			}
			if b.Total() != int64(len(all)) {
				t.Fatalf("Total = %d, want %d", b.Total(), len(all))
			}
		}
	}
}

func TestLineWriter(t *testing.T) {
	var got []string
	sink := &lineSink{fn: func(stream, line string) { got = append(got, stream+":"+line) }}
	w := &lineWriter{stream: "stdout", sink: sink}
	for _, chunk := range []string{"one\ntw", "o\r\n", "", "\n", "thr", "ee\nfour"} {
		w.Write([]byte(chunk))
	}
	w.flush()
	want := []string{"stdout:one", "stdout:two", "stdout:", "stdout:three", "stdout:four"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("lines = %q, want %q", got, want)
	}

	// No line is longer than maxLine, and nothing is lost.
	got = nil
	long := strings.Repeat("x", 2*maxLine+10)
	w.Write([]byte(long[:maxLine-1]))
	w.Write([]byte(long[maxLine-1:] + "\nend\n"))
	var joined strings.Builder
	for _, l := range got[:len(got)-1] {
		l = strings.TrimPrefix(l, "stdout:")
		if len(l) > maxLine {
			t.Fatalf("line of %d bytes", len(l))
		}
		joined.WriteString(l)
	}
	if joined.String() != long || got[len(got)-1] != "stdout:end" {
		t.Fatalf("long line split wrong: %d parts", len(got))
	}

	// Nothing reaches the callback once the Run is over.
	got = nil
	sink.close()
	w.Write([]byte("late\n"))
	if len(got) != 0 {
		t.Fatalf("line after close: %q", got)
	}
}
