package sshexec

import (
	"bytes"
	"sync"
)

// tailBuffer keeps the last max bytes written to it: when a command fails
// after printing megabytes, the end holds the error.
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	buf   []byte // a ring once len(buf) == max
	start int    // index of the oldest byte in the ring
	total int64
}

func newTailBuffer(max int) *tailBuffer {
	return &tailBuffer{max: max}
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	b.total += int64(n)
	if len(p) >= b.max {
		b.buf = append(b.buf[:0], p[len(p)-b.max:]...)
		b.start = 0
		return n, nil
	}
	if room := b.max - len(b.buf); room > 0 {
		k := min(room, len(p))
		b.buf = append(b.buf, p[:k]...)
		p = p[k:]
	}
	for len(p) > 0 {
		k := copy(b.buf[b.start:], p)
		p = p[k:]
		b.start = (b.start + k) % b.max
	}
	return n, nil
}

// Bytes returns a copy of the kept tail, oldest byte first.
func (b *tailBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]byte, 0, len(b.buf))
	out = append(out, b.buf[b.start:]...)
	return append(out, b.buf[:b.start]...)
}

// Total is the number of bytes written, kept or not.
func (b *tailBuffer) Total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// maxLine bounds one OnLine call: a command printing megabytes without a
// newline must not hold them all in memory.
const maxLine = 64 << 10

// lineSink hands lines of both streams to one callback, one call at a
// time, and never after the Run that owns it has returned.
type lineSink struct {
	mu     sync.Mutex
	fn     func(stream, line string)
	closed bool
}

func (s *lineSink) emit(stream string, line []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	line = bytes.TrimSuffix(line, []byte{'\r'})
	s.fn(stream, string(line))
}

func (s *lineSink) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// lineWriter splits one stream into lines, without their "\n" (or "\r\n").
type lineWriter struct {
	stream  string
	sink    *lineSink
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			for len(w.partial) >= maxLine {
				w.sink.emit(w.stream, w.partial[:maxLine])
				w.partial = append(w.partial[:0], w.partial[maxLine:]...)
			}
			break
		}
		line := p[:i]
		if len(w.partial) > 0 {
			line = append(w.partial, line...)
		}
		for len(line) > maxLine {
			w.sink.emit(w.stream, line[:maxLine])
			line = line[maxLine:]
		}
		w.sink.emit(w.stream, line)
		w.partial = w.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

// flush emits a last line that had no newline.
func (w *lineWriter) flush() {
	if len(w.partial) > 0 {
		w.sink.emit(w.stream, w.partial)
		w.partial = w.partial[:0]
	}
}
