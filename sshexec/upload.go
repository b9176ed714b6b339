package sshexec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// UploadResult describes a finished Upload.
type UploadResult struct {
	Skipped  bool   // remoteDir already held exactly this tree
	Digest   string // TreeDigest of the local tree
	Files    int    // regular files written
	Bytes    int64  // file bytes written
	Duration time.Duration
}

// Upload copies the tree localDir to remoteDir on host over SFTP, on the
// host's shared connection.
//
// It is atomic: the tree is written to a hidden sibling
// ".<base>.tmp-<random>" and renamed to remoteDir only when complete, so
// remoteDir is either absent or whole. It is idempotent: the tree's digest
// is stored in remoteDir/.hoist-digest, and when remoteDir exists with the
// same digest Upload does nothing and reports Skipped. It never replaces
// an existing remoteDir: other content there is a *ConflictError. A
// temporary sibling left by an interrupted earlier Upload of the same
// remoteDir is removed first, so two Uploads of one remoteDir must not run
// at once (hoist's deploy lock sees to that).
func (c *Client) Upload(ctx context.Context, host, localDir, remoteDir string) (UploadResult, error) {
	start := time.Now()
	fail := func(err error) (UploadResult, error) {
		return UploadResult{}, fmt.Errorf("ssh %s: upload %s to %s: %w", host, localDir, remoteDir, err)
	}
	entries, digest, err := scanTree(localDir)
	if err != nil {
		return fail(err)
	}
	dir := path.Clean(remoteDir)
	if remoteDir == "" || dir == "/" || dir == "." || strings.HasPrefix(dir, "..") || path.Base(dir) == ".." {
		return fail(fmt.Errorf("remote directory %q: need a path with a parent directory", remoteDir))
	}
	t, err := c.resolve(host)
	if err != nil {
		return UploadResult{}, err
	}
	for attempt := 0; ; attempt++ {
		cn, err := c.connect(ctx, t)
		if err != nil {
			return UploadResult{}, err
		}
		sess, release, err := cn.openSession(ctx)
		if errors.Is(err, errBroken) && attempt == 0 {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return fail(ctx.Err())
			}
			return UploadResult{}, &ConnError{Host: t.spec, Addr: t.String(), Op: "upload: session", Err: err}
		}
		res, err := c.upload(ctx, t, cn, sess, entries, digest, filepath.Clean(localDir), dir)
		release()
		res.Duration = time.Since(start)
		return res, err
	}
}

func (c *Client) upload(ctx context.Context, t *target, cn *conn, sess *ssh.Session, entries []treeEntry, digest, localDir, dir string) (UploadResult, error) {
	defer sess.Close()
	op := "upload " + dir
	client, err := startSFTP(sess)
	if err != nil {
		if !cn.alive() {
			return UploadResult{}, &ConnError{Host: t.spec, Addr: t.String(), Op: op + ": sftp", Err: err}
		}
		return UploadResult{}, fmt.Errorf("ssh %s: %s: start sftp: %w", t.spec, op, err)
	}
	defer client.Close()
	// SFTP calls take no context: closing the client makes the call in
	// flight fail.
	stop := context.AfterFunc(ctx, func() { client.Close() })
	defer stop()

	u := &uploader{sftp: client, local: localDir, dir: dir, digest: digest, host: t.spec}
	res, err := u.run(entries)
	res.Digest = digest
	switch {
	case err == nil:
		return res, nil
	case ctx.Err() != nil:
		return res, fmt.Errorf("ssh %s: %s: %w", t.spec, op, ctx.Err())
	case !cn.alive():
		return res, &ConnError{Host: t.spec, Addr: t.String(), Op: op, Started: true, Err: err}
	}
	var conflict *ConflictError
	if errors.As(err, &conflict) {
		return res, err
	}
	return res, fmt.Errorf("ssh %s: %s: %w", t.spec, op, err)
}

func startSFTP(sess *ssh.Session) (*sftp.Client, error) {
	w, err := sess.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, err := sess.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := sess.RequestSubsystem("sftp"); err != nil {
		return nil, err
	}
	return sftp.NewClientPipe(r, w, sftp.UseConcurrentWrites(true))
}

type uploader struct {
	sftp   *sftp.Client
	host   string
	local  string
	dir    string
	digest string
}

func (u *uploader) run(entries []treeEntry) (UploadResult, error) {
	var res UploadResult
	if done, err := u.existing(); err != nil || done {
		res.Skipped = done
		return res, err
	}
	parent, base := path.Dir(u.dir), path.Base(u.dir)
	if err := u.sftp.MkdirAll(parent); err != nil {
		return res, fmt.Errorf("create %s: %w", parent, err)
	}
	if err := u.removeLeftovers(parent, base); err != nil {
		return res, err
	}
	suffix := make([]byte, 8)
	if _, err := rand.Read(suffix); err != nil {
		return res, err
	}
	tmp := path.Join(parent, tmpPrefix(base)+hex.EncodeToString(suffix))
	if err := u.sftp.Mkdir(tmp); err != nil {
		return res, fmt.Errorf("create %s: %w", tmp, err)
	}
	res, err := u.write(tmp, entries)
	if err == nil {
		err = u.sftp.Rename(tmp, u.dir)
		if err != nil {
			// Someone else may have finished the same upload first.
			if done, cerr := u.existing(); cerr != nil || done {
				res.Skipped = done
				err = cerr
			} else {
				err = fmt.Errorf("rename %s to %s: %w", tmp, u.dir, err)
			}
		}
	}
	if err != nil || res.Skipped {
		// Best effort: a leftover is removed by the next attempt anyway.
		_ = u.removeTree(tmp)
	}
	return res, err
}

// existing reports whether dir already holds this tree (true), is absent
// (false), or holds something else (ConflictError).
func (u *uploader) existing() (bool, error) {
	fi, err := u.sftp.Lstat(u.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", u.dir, err)
	}
	conflict := &ConflictError{Host: u.host, Dir: u.dir, Want: u.digest}
	if !fi.IsDir() {
		conflict.Got = "not a directory: " + fi.Mode().String()
		return false, conflict
	}
	f, err := u.sftp.Open(path.Join(u.dir, digestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, conflict
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", digestFile, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 256))
	if err != nil {
		return false, fmt.Errorf("read %s: %w", digestFile, err)
	}
	conflict.Got = strings.TrimSpace(string(b))
	if conflict.Got != u.digest {
		return false, conflict
	}
	return true, nil
}

func tmpPrefix(base string) string { return "." + base + ".tmp-" }

// isTmpName matches only the temporary siblings Upload makes for base, so
// nothing else in the parent is ever removed.
func isTmpName(name, base string) bool {
	rest, ok := strings.CutPrefix(name, tmpPrefix(base))
	if !ok || len(rest) != 16 {
		return false
	}
	_, err := hex.DecodeString(rest)
	return err == nil && strings.ToLower(rest) == rest
}

func (u *uploader) removeLeftovers(parent, base string) error {
	infos, err := u.sftp.ReadDir(parent)
	if err != nil {
		return fmt.Errorf("list %s: %w", parent, err)
	}
	for _, fi := range infos {
		if isTmpName(fi.Name(), base) {
			if err := u.removeTree(path.Join(parent, fi.Name())); err != nil {
				return fmt.Errorf("remove leftover %s: %w", fi.Name(), err)
			}
		}
	}
	return nil
}

// write fills tmp with the tree. Directory modes are set last, deepest
// first: a directory made read-only before its files are written could
// not receive them.
func (u *uploader) write(tmp string, entries []treeEntry) (UploadResult, error) {
	var res UploadResult
	var dirs []treeEntry
	for _, e := range entries {
		remote := path.Join(tmp, e.rel)
		if e.dir {
			dirs = append(dirs, e)
			if e.rel != "." {
				if err := u.sftp.Mkdir(remote); err != nil {
					return res, fmt.Errorf("create %s: %w", remote, err)
				}
			}
			continue
		}
		n, err := u.writeFile(filepath.Join(u.local, filepath.FromSlash(e.rel)), remote, e.perm, e.size)
		if err != nil {
			return res, err
		}
		res.Files++
		res.Bytes += n
	}
	if _, err := u.writeBytes(path.Join(tmp, digestFile), []byte(u.digest+"\n"), 0o644); err != nil {
		return res, err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		remote := path.Join(tmp, dirs[i].rel)
		if err := u.sftp.Chmod(remote, dirs[i].perm); err != nil {
			return res, fmt.Errorf("chmod %s: %w", remote, err)
		}
	}
	return res, nil
}

func (u *uploader) writeFile(local, remote string, perm fs.FileMode, size int64) (int64, error) {
	src, err := os.Open(local)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	dst, err := u.sftp.OpenFile(remote, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", remote, err)
	}
	n, err := dst.ReadFrom(src)
	if err == nil && n != size {
		err = fmt.Errorf("%s changed while uploading: %d bytes, expected %d", local, n, size)
	}
	if err == nil {
		// After writing: the umask shaped the create mode, and a
		// read-only mode must not stop the write.
		err = dst.Chmod(perm)
	}
	if err == nil {
		err = durable(dst)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("write %s: %w", remote, err)
	}
	return n, nil
}

func (u *uploader) writeBytes(remote string, data []byte, perm fs.FileMode) (int64, error) {
	dst, err := u.sftp.OpenFile(remote, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", remote, err)
	}
	n, err := dst.Write(data)
	if err == nil {
		err = dst.Chmod(perm)
	}
	if err == nil {
		err = durable(dst)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return int64(n), fmt.Errorf("write %s: %w", remote, err)
	}
	return int64(n), nil
}

// removeTree deletes a tree Upload made. Directories are made writable
// first: an interrupted upload may have left read-only ones. Symlinks are
// removed, never followed.
func (u *uploader) removeTree(p string) error {
	fi, err := u.sftp.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return u.sftp.Remove(p)
	}
	_ = u.sftp.Chmod(p, 0o700)
	infos, err := u.sftp.ReadDir(p)
	if err != nil {
		return err
	}
	for _, child := range infos {
		if err := u.removeTree(path.Join(p, child.Name())); err != nil {
			return err
		}
	}
	return u.sftp.RemoveDirectory(p)
}

// durable fsyncs an uploaded file on the host (OpenSSH's fsync@openssh.com)
// before the tree is renamed into place: after a power loss the digest,
// written and synced last, must never vouch for a truncated file. On a
// journaling file system the rename commits after the creates before it.
// A server without the extension (not OpenSSH) gets the old behaviour.
func durable(f *sftp.File) error {
	err := f.Sync()
	var unsupported *sftp.StatusError
	if errors.As(err, &unsupported) && unsupported.FxCode() == sftp.ErrSSHFxOpUnsupported {
		return nil
	}
	return err
}
