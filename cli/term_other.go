//go:build !linux && !darwin

package cli

import "os"

// termWidth is unknown here: terminal falls back to $COLUMNS, then 80.
func termWidth(*os.File) int { return 0 }
