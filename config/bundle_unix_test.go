//go:build unix

package config

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestBundleRefusesPipe(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, []treeEntry{{"compose.yaml", 0o644, "x"}})
	must(t, syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644))
	_, err := Bundle(dir)
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "pipe: is a named pipe") {
		t.Fatalf("got %v", err)
	}
}
