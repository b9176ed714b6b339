package sshexec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// digestFile is written into every uploaded tree; it is how a later
// Upload recognises the same content without reading the files back.
const digestFile = ".hoist-digest"

// treeEntry is one directory or regular file of a local tree.
type treeEntry struct {
	rel  string // slash-separated, "." for the root
	dir  bool
	perm fs.FileMode
	size int64
	sum  string // hex sha256 of a file's content
}

// TreeDigest identifies the content of localDir: relative paths, kinds,
// permission bits and file contents. Timestamps and owners are left out,
// so the same bundle built twice has the same digest. Symlinks and
// special files are refused: an uploaded tree holds only directories and
// regular files.
func TreeDigest(localDir string) (string, error) {
	_, digest, err := scanTree(localDir)
	return digest, err
}

// scanTree lists localDir, parents before children, and computes its
// digest.
func scanTree(localDir string) ([]treeEntry, string, error) {
	// The root may be a symlink (a "current" release link); WalkDir would
	// not descend into it.
	root, err := filepath.EvalSymlinks(localDir)
	if err != nil {
		return nil, "", err
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, "", err
	}
	if !st.IsDir() {
		return nil, "", fmt.Errorf("%s is not a directory", localDir)
	}
	var entries []treeEntry
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == digestFile {
			return fmt.Errorf("%s: the name %s is reserved for the upload digest", p, digestFile)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case mode&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symlink; an uploaded tree must hold only directories and regular files", p)
		case mode.IsDir():
			entries = append(entries, treeEntry{rel: rel, dir: true, perm: mode.Perm()})
		case mode.IsRegular():
			sum, err := fileSHA256(p)
			if err != nil {
				return err
			}
			entries = append(entries, treeEntry{rel: rel, perm: mode.Perm(), size: info.Size(), sum: sum})
		default:
			return fmt.Errorf("%s is a %s; an uploaded tree must hold only directories and regular files", p, mode.Type())
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	// Byte order, not WalkDir's per-directory order, so the digest does
	// not depend on how names compare to "/". A prefix sorts first, so
	// parents still come before their children.
	sort.Slice(entries, func(i, j int) bool { return entries[i].rel < entries[j].rel })
	return entries, digestOf(entries), nil
}

func digestOf(entries []treeEntry) string {
	h := sha256.New()
	io.WriteString(h, "hoist-tree-v1\n")
	for _, e := range entries {
		// Length-prefixed paths: a name may contain spaces or newlines.
		if e.dir {
			fmt.Fprintf(h, "d %04o %d:%s\n", e.perm, len(e.rel), e.rel)
		} else {
			fmt.Fprintf(h, "f %04o %s %d:%s\n", e.perm, e.sum, len(e.rel), e.rel)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
