package config

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxBundleBytes caps the compressed size of a release bundle: it travels
// through the workflow to every host.
const MaxBundleBytes = 1 << 20

// MaxUnpackedBytes caps the total size of the files in a bundle, both when
// Bundle packs them and when ExtractBundle unpacks them (against zip bombs).
const MaxUnpackedBytes = 64 << 20

// maxBundleEntries caps the number of files and folders in a bundle.
const maxBundleEntries = 10000

// maxEntryName and maxEntryDepth cap the length of a path inside a bundle
// and the number of its segments.
const (
	maxEntryName  = 4096
	maxEntryDepth = 64
)

// ErrBadBundle marks an ExtractBundle failure caused by the bundle's
// content rather than by the local disk: retrying cannot help.
var ErrBadBundle = errors.New("bad release bundle")

// bundleEpoch is the modification time of every entry, so that the same
// content always gives the same bytes.
var bundleEpoch = time.Unix(0, 0)

type bundleEntry struct {
	name string // slash-separated, relative to the folder
	info fs.FileInfo
}

// Bundle packs the regular files and folders under dir into a gzip'd tar.
// The output depends only on names, contents and permission bits: entries
// are sorted, times, owners and groups zeroed. Symlinks, devices, sockets
// and pipes are refused, as is a bundle over MaxBundleBytes compressed or
// MaxUnpackedBytes uncompressed. dir itself may be a symlink to a folder.
func Bundle(dir string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, &Error{Field: "files", Msg: fmt.Sprintf("cannot open folder %q: %s", dir, pathErrorText(err))}
	}
	defer root.Close()

	entries, err := bundleEntries(root, dir)
	if err != nil {
		return nil, err
	}

	out := &countingBuffer{limit: MaxBundleBytes}
	zw := gzip.NewWriter(out)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		if err := addEntry(tw, root, dir, e); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	if out.n > MaxBundleBytes {
		return nil, &Error{Field: "files", Msg: fmt.Sprintf(
			"the release bundle of %q is %d bytes compressed, over the %d-byte (1 MiB) cap; keep images in the registry and only compose files and small config in the folder",
			dir, out.n, MaxBundleBytes)}
	}
	return out.buf.Bytes(), nil
}

// bundleEntries lists what goes into the bundle, in order, and reports
// everything that cannot go in, all at once.
func bundleEntries(root *os.Root, dir string) ([]bundleEntry, error) {
	var entries []bundleEntry
	var problems []*Error
	var total int64
	fail := func(name, format string, args ...any) {
		problems = append(problems, &Error{Field: "files", Msg: fmt.Sprintf("%s: ", shownPath(filepath.Join(dir, filepath.FromSlash(name)))) + fmt.Sprintf(format, args...)})
	}
	err := fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		if msg := checkEntryName(name); msg != "" {
			fail(name, "%s", msg)
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t&fs.ModeSymlink != 0:
			target, _ := root.Readlink(name)
			fail(name, "is a symlink (to %q); the release bundle takes only regular files and folders, so copy the file in instead", target)
			return nil
		case t.IsDir(), t.IsRegular():
		default:
			fail(name, "is a %s; the release bundle takes only regular files and folders", typeName(t))
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			total += info.Size()
		} else if !info.IsDir() { // changed since the folder was read
			fail(name, "is a %s; the release bundle takes only regular files and folders", typeName(info.Mode().Type()))
			return nil
		}
		entries = append(entries, bundleEntry{name: name, info: info})
		if len(entries) > maxBundleEntries {
			return fs.SkipAll // no need to walk a whole disk to say so
		}
		return nil
	})
	if err != nil {
		return nil, &Error{Field: "files", Msg: fmt.Sprintf("cannot read folder %q: %v", dir, err)}
	}
	if len(entries) > maxBundleEntries {
		problems = append(problems, &Error{Field: "files", Msg: fmt.Sprintf("folder %q holds more than %d files and folders", dir, maxBundleEntries)})
	}
	if total > MaxUnpackedBytes {
		problems = append(problems, &Error{Field: "files", Msg: fmt.Sprintf("folder %q holds %d bytes of files, over the %d-byte (64 MiB) cap", dir, total, MaxUnpackedBytes)})
	}
	if err := join(problems); err != nil {
		return nil, err
	}
	return entries, nil
}

func addEntry(tw *tar.Writer, root *os.Root, dir string, e bundleEntry) error {
	hdr := &tar.Header{
		Name:    e.name,
		Mode:    int64(e.info.Mode().Perm()),
		ModTime: bundleEpoch,
	}
	if e.info.IsDir() {
		hdr.Typeflag, hdr.Name = tar.TypeDir, e.name+"/"
		return tw.WriteHeader(hdr)
	}
	changed := &Error{Field: "files", Msg: fmt.Sprintf("%s changed while it was being bundled; try again", filepath.Join(dir, filepath.FromSlash(e.name)))}
	f, err := root.Open(e.name)
	if err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	defer f.Close()
	// The entry was checked by name; make sure the file opened is that one.
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	if !info.Mode().IsRegular() || !os.SameFile(info, e.info) {
		return changed
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	n, err := io.Copy(tw, io.LimitReader(f, info.Size()))
	if err != nil && !errors.Is(err, tar.ErrWriteTooLong) {
		return fmt.Errorf("bundle %s: %w", dir, err)
	}
	if n != info.Size() {
		return changed
	}
	return nil
}

// countingBuffer keeps the first limit bytes written to it and counts all.
type countingBuffer struct {
	buf   bytes.Buffer
	n     int64
	limit int64
}

func (w *countingBuffer) Write(p []byte) (int, error) {
	if room := w.limit - w.n; room > 0 {
		w.buf.Write(p[:min(int64(len(p)), room)])
	}
	w.n += int64(len(p))
	return len(p), nil
}

// checkEntryName refuses names that would make trouble on the way or on
// the host: not UTF-8, control characters, over-long or over-deep.
func checkEntryName(name string) string {
	switch {
	case len(name) > maxEntryName:
		return fmt.Sprintf("path is longer than %d bytes", maxEntryName)
	case strings.Count(name, "/") >= maxEntryDepth:
		return fmt.Sprintf("path is more than %d levels deep", maxEntryDepth)
	case !utf8.ValidString(name):
		return "name is not valid UTF-8"
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] == 0x7f {
			return fmt.Sprintf("name %q holds a control character", name)
		}
	}
	return ""
}

// shownPath is p as a message shows it: quoted when it holds a control
// character or is not UTF-8, so that a file name can neither break the
// message into lines nor send escape sequences to the terminal.
func shownPath(p string) string {
	if q := strconv.Quote(p); q != `"`+p+`"` {
		return q
	}
	return p
}

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// ExtractBundle unpacks a bundle made by Bundle into dir, which must exist
// and be empty. It refuses absolute names, ".." and anything else that
// would land outside dir, links and special files, and more than
// MaxUnpackedBytes or maxBundleEntries. Files and folders get the
// permission bits recorded in the bundle. Errors caused by the bundle's
// content wrap ErrBadBundle. On error, dir is emptied again.
func ExtractBundle(data []byte, dir string) (err error) {
	if len(data) > MaxBundleBytes {
		return fmt.Errorf("%w: %d bytes, over the %d-byte cap", ErrBadBundle, len(data), MaxBundleBytes)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("extract bundle: %w", err)
	}
	defer root.Close()
	if empty, err := isEmpty(root); err != nil {
		return fmt.Errorf("extract bundle: %w", err)
	} else if !empty {
		return fmt.Errorf("extract bundle: %s is not empty", dir)
	}
	defer func() {
		if err != nil {
			emptyRoot(root)
		}
	}()
	return extract(data, root)
}

type dirMode struct {
	name string
	perm fs.FileMode
}

// What a path inside the folder already is, while extracting.
type kind int

const (
	implicitDir kind = iota + 1 // made as the parent of a later entry
	explicitDir
	regularFile
)

// extraction holds the state of one ExtractBundle.
type extraction struct {
	root  *os.Root
	kinds map[string]kind
	dirs  []dirMode
	total int64
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadBundle, fmt.Sprintf(format, args...))
}

func extract(data []byte, root *os.Root) error {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return bad("%v", err)
	}
	tr := tar.NewReader(zr)
	x := &extraction{root: root, kinds: map[string]kind{}}
	for count := 1; ; count++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bad("%v", err)
		}
		if count > maxBundleEntries {
			return bad("more than %d entries", maxBundleEntries)
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
	// Read the rest, so that gzip checks its checksum.
	n, err := io.Copy(io.Discard, io.LimitReader(zr, 1<<20))
	if err != nil {
		return bad("%v", err)
	}
	if n == 1<<20 {
		return bad("too much data after the end of the archive")
	}
	// Deepest folders first, so that a read-only parent does not stop the
	// chmod of its children.
	slices.SortStableFunc(x.dirs, func(a, b dirMode) int {
		return strings.Count(b.name, "/") - strings.Count(a.name, "/")
	})
	for _, d := range x.dirs {
		if err := root.Chmod(d.name, d.perm); err != nil {
			return fmt.Errorf("extract bundle: %w", err)
		}
	}
	return nil
}

func (x *extraction) entry(hdr *tar.Header, r io.Reader) error {
	name, msg := extractName(hdr)
	if msg != "" {
		return bad("entry %q: %s", hdr.Name, msg)
	}
	perm := fs.FileMode(hdr.Mode) & fs.ModePerm
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := x.parents(name); err != nil {
			return err
		}
		switch x.kinds[name] {
		case 0:
			if err := x.root.Mkdir(name, 0o700); err != nil {
				return fmt.Errorf("extract bundle: %w", err)
			}
		case implicitDir:
		default:
			return bad("entry %q appears twice", name)
		}
		x.kinds[name] = explicitDir
		x.dirs = append(x.dirs, dirMode{name, perm})
		return nil
	case tar.TypeReg:
		if x.total += hdr.Size; x.total > MaxUnpackedBytes {
			return bad("more than %d bytes of files", MaxUnpackedBytes)
		}
		switch x.kinds[name] {
		case 0:
		case implicitDir:
			return bad("entry %q is a file, but earlier entries are inside it", name)
		default:
			return bad("entry %q appears twice", name)
		}
		if err := x.parents(name); err != nil {
			return err
		}
		x.kinds[name] = regularFile
		return writeFile(x.root, name, perm, r, hdr.Size)
	default:
		return bad("entry %q is a %s; bundles hold only files and folders", name, tarTypeName(hdr.Typeflag))
	}
}

// parents makes the folders above name that do not exist yet, refusing a
// name that would go inside a file.
func (x *extraction) parents(name string) error {
	var missing []string
up:
	for p := path.Dir(name); p != "."; p = path.Dir(p) {
		switch x.kinds[p] {
		case 0:
			missing = append(missing, p)
		case regularFile:
			return bad("entry %q is inside the file %q", name, p)
		default:
			break up // a folder: everything above it exists
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := x.root.Mkdir(missing[i], 0o700); err != nil {
			return fmt.Errorf("extract bundle: %w", err)
		}
		x.kinds[missing[i]] = implicitDir
	}
	return nil
}

func writeFile(root *os.Root, name string, perm fs.FileMode, r io.Reader, size int64) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("extract bundle: %w", err)
	}
	n, err := io.Copy(f, badReader{io.LimitReader(r, size)})
	if err == nil && n != size {
		err = fmt.Errorf("%w: %s is truncated", ErrBadBundle, name)
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, ErrBadBundle) {
		return fmt.Errorf("extract bundle: %w", err)
	}
	return err
}

// badReader marks read errors as the bundle's fault, to tell them apart
// from write errors on the local disk.
type badReader struct{ r io.Reader }

func (b badReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: %w", ErrBadBundle, err)
	}
	return n, err
}

// extractName checks an entry's name and returns it without the trailing
// slash of a folder.
func extractName(hdr *tar.Header) (string, string) {
	name := hdr.Name
	if hdr.Typeflag == tar.TypeDir {
		name = strings.TrimSuffix(name, "/")
	}
	switch {
	case name == "":
		return "", "empty name"
	case strings.HasPrefix(name, "/"):
		return "", "absolute path"
	case name == "." || !fs.ValidPath(name):
		return "", `not a clean relative path (".", ".." and empty segments are refused)`
	}
	if msg := checkEntryName(name); msg != "" {
		return "", msg
	}
	return name, ""
}

func tarTypeName(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar:
		return "character device"
	case tar.TypeBlock:
		return "block device"
	case tar.TypeFifo:
		return "named pipe"
	}
	return fmt.Sprintf("entry of type %q", t)
}

func isEmpty(root *os.Root) (bool, error) {
	f, err := root.Open(".")
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return len(names) == 0, err
}

// emptyRoot removes what a failed extraction left in root, which was empty.
func emptyRoot(root *os.Root) {
	f, err := root.Open(".")
	if err != nil {
		return
	}
	names, _ := f.Readdirnames(-1)
	f.Close()
	for _, name := range names {
		root.RemoveAll(name)
	}
}
