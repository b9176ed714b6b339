package sshexec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makeTree writes files (path -> content) with modes; a path ending in "/"
// is a directory.
func makeTree(t *testing.T, files map[string]string, modes map[string]os.FileMode) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, m := range modes {
		if err := os.Chmod(filepath.Join(root, filepath.FromSlash(p)), m); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func mustDigest(t *testing.T, dir string) string {
	t.Helper()
	d, err := TreeDigest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestTreeDigest(t *testing.T) {
	files := map[string]string{"compose.yaml": "services: {}\n", "bin/run.sh": "#!/bin/sh\n", "empty/": ""}
	modes := map[string]os.FileMode{"bin/run.sh": 0o755}
	base := mustDigest(t, makeTree(t, files, modes))
	if !strings.HasPrefix(base, "sha256:") || len(base) != len("sha256:")+64 {
		t.Fatalf("digest %q", base)
	}
	if again := mustDigest(t, makeTree(t, files, modes)); again != base {
		t.Fatal("same tree, different digest")
	}

	variants := map[string]func() string{
		"content": func() string {
			return mustDigest(t, makeTree(t, map[string]string{"compose.yaml": "services: {x}\n", "bin/run.sh": "#!/bin/sh\n", "empty/": ""}, modes))
		},
		"mode": func() string {
			return mustDigest(t, makeTree(t, files, map[string]os.FileMode{"bin/run.sh": 0o700}))
		},
		"dir mode": func() string {
			return mustDigest(t, makeTree(t, files, map[string]os.FileMode{"bin/run.sh": 0o755, "empty": 0o700}))
		},
		"name": func() string {
			return mustDigest(t, makeTree(t, map[string]string{"compose.yml": "services: {}\n", "bin/run.sh": "#!/bin/sh\n", "empty/": ""}, modes))
		},
		"empty dir": func() string {
			return mustDigest(t, makeTree(t, map[string]string{"compose.yaml": "services: {}\n", "bin/run.sh": "#!/bin/sh\n"}, modes))
		},
	}
	for name, digest := range variants {
		if digest() == base {
			t.Errorf("%s change left the digest unchanged", name)
		}
	}
}

func TestTreeDigestRefuses(t *testing.T) {
	root := makeTree(t, map[string]string{"a": "x"}, nil)
	if err := os.Symlink("a", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := TreeDigest(root); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("symlink: err = %v", err)
	}

	root = makeTree(t, map[string]string{digestFile: "x"}, nil)
	if _, err := TreeDigest(root); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("%s in tree: err = %v", digestFile, err)
	}

	if _, err := TreeDigest(filepath.Join(root, digestFile)); err == nil {
		t.Error("a file accepted as a tree")
	}
}

func TestTreeDigestFollowsRootSymlink(t *testing.T) {
	root := makeTree(t, map[string]string{"a": "x"}, nil)
	link := filepath.Join(t.TempDir(), "current")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	if mustDigest(t, link) != mustDigest(t, root) {
		t.Error("a symlink to the tree has another digest")
	}
}

func TestIsTmpName(t *testing.T) {
	for name, want := range map[string]bool{
		".release.tmp-0123456789abcdef":   true,
		".release.tmp-0123456789ABCDEF":   false,
		".release.tmp-0123456789abcde":    false,
		".release.tmp-0123456789abcdefg":  false,
		".release2.tmp-0123456789abcdef":  false,
		"release.tmp-0123456789abcdef":    false,
		".other.tmp-0123456789abcdef":     false,
		".release.tmp-0123456789abcdef/x": false,
	} {
		if got := isTmpName(name, "release"); got != want {
			t.Errorf("isTmpName(%q) = %v, want %v", name, got, want)
		}
	}
}
