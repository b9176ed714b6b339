package config

import (
	"cmp"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Error is one configuration problem: something the user has to fix before
// anything runs. Load, Parse, ValidateVersion and Bundle return *Error, or
// several of them joined with errors.Join, so errors.As(err, &cfgErr)
// recognises all of them.
type Error struct {
	File  string // the config file as the user named it; empty when there is none
	Line  int    // 1-based; 0 when the problem has no single line (a missing key)
	Field string // "remote_base", "hosts[1].port", "--version", ...
	Msg   string
}

// Error renders the problem as FILE:LINE: FIELD: MSG, leaving out the
// parts that are not known.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Problems returns every *Error inside err, in order: the one err is, or
// the ones joined into it. It returns nil for a nil error or one that holds
// no configuration problem.
func Problems(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if e, ok := err.(*Error); ok {
			out = append(out, e)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// join turns a list of problems into one error: nil for none, the *Error
// itself for one, errors.Join for more. Problems with a line come first in
// line order, then the ones without (missing keys), each group keeping the
// order in which the problems were found.
func join(errs []*Error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	errs = slices.Clone(errs)
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Compare(lineKey(a), lineKey(b))
	})
	list := make([]error, len(errs))
	for i, e := range errs {
		list[i] = e
	}
	return errors.Join(list...)
}

func lineKey(e *Error) int {
	if e.Line <= 0 {
		return math.MaxInt
	}
	return e.Line
}
