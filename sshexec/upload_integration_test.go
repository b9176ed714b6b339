//go:build integration

package sshexec

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testbed"
	"github.com/hoist-dev/hoist/remote"
)

// localListing describes a local tree as the remote check prints it:
// "mode path" and "sha256  path" lines, paths relative with "./".
func localListing(t *testing.T, root string) (modes, sums []string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = "./" + filepath.ToSlash(rel)
		if rel == "./." {
			rel = "."
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		modes = append(modes, fmt.Sprintf("%o %s", info.Mode().Perm(), rel))
		if info.Mode().IsRegular() {
			sum, err := fileSHA256(p)
			if err != nil {
				return err
			}
			sums = append(sums, sum+"  "+rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(modes)
	sort.Strings(sums)
	return modes, sums
}

// remoteListing prints the same for a remote tree, leaving out the digest
// file.
func remoteListing(t *testing.T, c *Client, host, dir string) (modes, sums []string) {
	t.Helper()
	notDigest := []string{"!", "-name", digestFile}
	res := mustRun(t, c, host, remote.Cmd(append(append([]string{"find", "."}, notDigest...), "-exec", "stat", "-c", "%a %n", "{}", "+")...).In(dir))
	modes = strings.Split(strings.TrimSpace(res.Stdout), "\n")
	res = mustRun(t, c, host, remote.Cmd(append(append([]string{"find", ".", "-type", "f"}, notDigest...), "-exec", "sha256sum", "{}", "+")...).In(dir))
	sums = strings.Split(strings.TrimSpace(res.Stdout), "\n")
	sort.Strings(modes)
	sort.Strings(sums)
	return modes, sums
}

func TestIntegrationUpload(t *testing.T) {
	env := testbed.Load(t)
	t.Parallel()
	c := tbClient(t, env)
	host := env.Host(2)
	base := scratchDir(t, c, host)

	blob := make([]byte, 300_000)
	for i := range blob {
		blob[i] = byte(rand.IntN(256))
	}
	local := makeTree(t, map[string]string{
		"compose.yaml":         "services:\n  web:\n    image: testapp:v1\n",
		"bin/run.sh":           "#!/bin/sh\necho hi\n",
		"secret.env":           "TOKEN=x\n",
		"nested/deep/data.bin": string(blob),
		"empty/":               "",
	}, map[string]os.FileMode{"bin/run.sh": 0o755, "secret.env": 0o600, "nested": 0o750, "empty": 0o700})
	digest := mustDigest(t, local)

	releases := base + "/releases" // does not exist yet: Upload creates it
	dir := releases + "/r1"
	// A leftover of a crashed upload of r1, with a read-only directory
	// in it, and a name that only looks like one.
	leftover := releases + "/.r1.tmp-0123456789abcdef"
	mustRun(t, c, host, remote.Cmd("mkdir", "-p", leftover+"/sub", releases+"/.r1.tmp-keepme").
		And("touch", leftover+"/sub/file").And("chmod", "555", leftover+"/sub"))

	res, err := c.Upload(ctxFor(t, 30*time.Second), host, local, dir)
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped || res.Files != 4 || res.Bytes != int64(len(blob))+int64(len("#!/bin/sh\necho hi\n")+len("TOKEN=x\n")+len("services:\n  web:\n    image: testapp:v1\n")) || res.Digest != digest {
		t.Errorf("first upload: %+v", res)
	}
	t.Logf("upload: %d files, %d bytes in %s", res.Files, res.Bytes, res.Duration)

	wantModes, wantSums := localListing(t, local)
	gotModes, gotSums := remoteListing(t, c, host, dir)
	if strings.Join(gotModes, "\n") != strings.Join(wantModes, "\n") {
		t.Errorf("modes on host:\n%s\nwant\n%s", strings.Join(gotModes, "\n"), strings.Join(wantModes, "\n"))
	}
	if strings.Join(gotSums, "\n") != strings.Join(wantSums, "\n") {
		t.Errorf("contents on host:\n%s\nwant\n%s", strings.Join(gotSums, "\n"), strings.Join(wantSums, "\n"))
	}
	if got := mustRun(t, c, host, remote.Cmd("cat", dir+"/"+digestFile)).Stdout; got != digest+"\n" {
		t.Errorf("%s = %q, want %s", digestFile, got, digest)
	}
	if got := mustRun(t, c, host, remote.Cmd("ls", "-A", releases)).Stdout; got != ".r1.tmp-keepme\nr1\n" {
		t.Errorf("releases holds %q: leftover not removed, or too much removed", got)
	}

	// The same tree again: nothing happens, not even a rename.
	inode := mustRun(t, c, host, remote.Cmd("stat", "-c", "%i", dir)).Stdout
	res, err = c.Upload(ctxFor(t, 30*time.Second), host, local, dir)
	if err != nil || !res.Skipped {
		t.Fatalf("second upload: %+v, %v", res, err)
	}
	if again := mustRun(t, c, host, remote.Cmd("stat", "-c", "%i", dir)).Stdout; again != inode {
		t.Errorf("inode changed from %s to %s", inode, again)
	}

	// Other content for the same directory is a conflict, and leaves
	// the directory and its parent as they were.
	if err := os.WriteFile(filepath.Join(local, "compose.yaml"), []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = c.Upload(ctxFor(t, 30*time.Second), host, local, dir)
	var conflict *ConflictError
	if !errors.As(err, &conflict) || conflict.Got != digest || conflict.Want == digest || Retryable(err) {
		t.Fatalf("changed tree: err = %v, want a *ConflictError", err)
	}
	if _, sums := remoteListing(t, c, host, dir); strings.Join(sums, "\n") != strings.Join(wantSums, "\n") {
		t.Error("a conflicting upload changed the directory")
	}
	if got := mustRun(t, c, host, remote.Cmd("ls", "-A", releases)).Stdout; got != ".r1.tmp-keepme\nr1\n" {
		t.Errorf("releases holds %q after the conflict", got)
	}

	// A directory that was not made by Upload has no digest: a conflict.
	mustRun(t, c, host, remote.Cmd("mkdir", releases+"/r2"))
	_, err = c.Upload(ctxFor(t, 30*time.Second), host, local, releases+"/r2")
	if !errors.As(err, &conflict) || conflict.Got != "" {
		t.Fatalf("directory without digest: err = %v, want a *ConflictError", err)
	}

	// Symlinks are refused before anything is sent.
	if err := os.Symlink("compose.yaml", filepath.Join(local, "link")); err != nil {
		t.Fatal(err)
	}
	_, err = c.Upload(ctxFor(t, 30*time.Second), host, local, releases+"/r3")
	if err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("symlink: err = %v", err)
	}
	if got := mustRun(t, c, host, remote.Cmd("ls", "-A", releases)).Stdout; got != ".r1.tmp-keepme\nr1\nr2\n" {
		t.Errorf("releases holds %q after the refused upload", got)
	}
	if s := c.Stats(); s.Dials != 1 {
		t.Errorf("stats %+v: uploads did not share the connection", s)
	}
}
