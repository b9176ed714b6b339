package cli

import (
	"io"
	"os"
	"strconv"
)

// terminal says whether w is a terminal the fleet table can be redrawn
// on, and how many columns it has (0: unknown). A pipe, a file or
// TERM=dumb gets plain lines.
func terminal(w io.Writer) (bool, int) {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false, 0
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false, 0
	}
	width := termWidth(f)
	if width <= 0 {
		width, _ = strconv.Atoi(os.Getenv("COLUMNS"))
	}
	if width <= 0 {
		width = 80
	}
	return true, width
}
