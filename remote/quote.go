// Package remote describes commands to run on a host as data. Builders
// elsewhere decide what runs; the executor decides where and when. Every
// value that reaches a remote shell is rendered by Quote, so no input can
// escape the argument it was meant to be.
package remote

import "strings"

// Quote renders s as one POSIX shell word that the shell turns back into
// exactly s. Words made only of characters no shell treats specially are
// left bare so command lines stay readable in logs; everything else is
// single-quoted, the one quoting form in which nothing is special.
//
// '=' is not bare-safe: a first word "A=b" would be an assignment.
// '~' is not bare-safe: it expands at the start of a word.
// A NUL byte cannot be passed through a shell at all; Command.Validate
// rejects it before anything runs.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if isBare(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func isBare(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '-', c == '.', c == '/', c == ':', c == ',', c == '@', c == '%', c == '+':
		default:
			return false
		}
	}
	return true
}

// Join quotes each word and joins them with spaces.
func Join(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}
