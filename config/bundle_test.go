package config

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tree writes files (name → content) and sets modes; names ending in "/"
// are folders.
type treeEntry struct {
	name    string
	mode    fs.FileMode
	content string
}

var sampleTree = []treeEntry{
	{"compose.yaml", 0o644, "services: {web: {image: nginx}}\n"},
	{"run.sh", 0o755, "#!/bin/sh\necho hi\n"},
	{"secret.env", 0o600, "A=1\n"},
	{"empty/", 0o700, ""},
	{"conf/", 0o750, ""},
	{"conf/nginx.conf", 0o640, "server {}\n"},
	{"conf/café ünïcode.txt", 0o644, "pax name\n"},
	{"conf/" + strings.Repeat("long", 40) + ".txt", 0o644, "long name\n"},
	{"ro/", 0o555, ""},
	{"ro/inside.txt", 0o444, "read only\n"},
}

func writeTree(t testing.TB, dir string, entries []treeEntry) {
	t.Helper()
	must(t, os.MkdirAll(dir, 0o755))
	var dirs []treeEntry
	for _, e := range entries {
		p := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(e.name, "/")))
		if strings.HasSuffix(e.name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, e)
			continue
		}
		if err := os.WriteFile(p, []byte(e.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, e.mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range dirs {
		p := filepath.Join(dir, strings.TrimSuffix(e.name, "/"))
		if err := os.Chmod(p, e.mode); err != nil {
			t.Fatal(err)
		}
	}
	makeRemovable(t, dir)
}

// makeRemovable lets t.TempDir's cleanup remove read-only folders.
func makeRemovable(t testing.TB, dir string) {
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
}

// readTree lists a folder as name → mode and content.
func readTree(t testing.TB, dir string) map[string]treeEntry {
	t.Helper()
	out := map[string]treeEntry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := treeEntry{name: rel, mode: info.Mode()}
		if d.IsDir() {
			e.name += "/"
		} else {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.content = string(data)
		}
		out[e.name] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBundleDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	writeTree(t, a, sampleTree)
	writeTree(t, b, sampleTree)
	// Different times must not matter.
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(b, "compose.yaml"), old, old); err != nil {
		t.Fatal(err)
	}
	first, err := Bundle(a)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Bundle(a)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Bundle(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) || !bytes.Equal(first, other) {
		t.Fatal("the same tree gave different bundles")
	}

	// Content and modes do matter.
	if err := os.WriteFile(filepath.Join(b, "compose.yaml"), []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := Bundle(b)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(first, changed) {
		t.Fatal("different content gave the same bundle")
	}
	if err := os.Chmod(filepath.Join(a, "run.sh"), 0o644); err != nil {
		t.Fatal(err)
	}
	if chmodded, _ := Bundle(a); bytes.Equal(first, chmodded) {
		t.Fatal("a different mode gave the same bundle")
	}

	// The headers carry no times, owners or names of owners.
	tr := tar.NewReader(mustGunzip(t, first))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		if hdr.ModTime.Unix() != 0 || hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "" {
			t.Errorf("%s: header keeps %v %d %d %q %q", hdr.Name, hdr.ModTime, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname)
		}
	}
}

func mustGunzip(t testing.TB, data []byte) *gzip.Reader {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return zr
}

func TestBundleRoundTrip(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeTree(t, src, sampleTree)
	makeRemovable(t, dst)
	data, err := Bundle(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := ExtractBundle(data, dst); err != nil {
		t.Fatal(err)
	}
	want, got := readTree(t, src), readTree(t, dst)
	if len(got) != len(want) {
		t.Errorf("extracted %d entries, want %d", len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: missing", name)
		case g.mode != w.mode:
			t.Errorf("%s: mode %v, want %v", name, g.mode, w.mode)
		case g.content != w.content:
			t.Errorf("%s: content %q, want %q", name, g.content, w.content)
		}
	}
}

func TestBundleRootSymlink(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, filepath.Join(dir, "real"), []treeEntry{{"compose.yaml", 0o644, "x"}})
	if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := Bundle(filepath.Join(dir, "link")); err != nil {
		t.Fatalf("a symlinked files folder is the user's choice: %v", err)
	}
}

func TestBundleRefuses(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, dir, outside string)
		want  []string // all must appear in the error
	}{
		{"symlink inside", func(t *testing.T, dir, _ string) {
			must(t, os.Symlink("compose.yaml", filepath.Join(dir, "alias.yaml")))
		}, []string{"alias.yaml", "symlink"}},
		{"symlink to a file outside", func(t *testing.T, dir, outside string) {
			must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "secret")))
		}, []string{filepath.Join("files", "secret"), "symlink"}},
		{"relative symlink escaping", func(t *testing.T, dir, _ string) {
			must(t, os.Symlink("../../../../etc/passwd", filepath.Join(dir, "passwd")))
		}, []string{"passwd", "symlink"}},
		{"symlink to a folder outside", func(t *testing.T, dir, outside string) {
			must(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
			must(t, os.Symlink(outside, filepath.Join(dir, "sub", "out")))
		}, []string{filepath.Join("sub", "out"), "symlink"}},
		{"dangling symlink", func(t *testing.T, dir, _ string) {
			must(t, os.Symlink("nowhere", filepath.Join(dir, "dangling")))
		}, []string{"dangling", "symlink"}},
		{"too deep", func(t *testing.T, dir, _ string) {
			deep := filepath.Join(dir, strings.Repeat("d/", maxEntryDepth))
			must(t, os.MkdirAll(deep, 0o755))
			must(t, os.WriteFile(filepath.Join(deep, "f"), nil, 0o644))
		}, []string{"levels deep"}},
		{"control character in a name", func(t *testing.T, dir, _ string) {
			must(t, os.WriteFile(filepath.Join(dir, "a\nb"), nil, 0o644))
		}, []string{"control character"}},
		{"escape sequence in a name", func(t *testing.T, dir, _ string) {
			must(t, os.WriteFile(filepath.Join(dir, "x\x1b[2J"), nil, 0o644))
		}, []string{`files/x\x1b[2J": name`, "control character"}},
		{"over the compressed cap", func(t *testing.T, dir, _ string) {
			noise := make([]byte, MaxBundleBytes+64<<10)
			rand.Read(noise)
			must(t, os.WriteFile(filepath.Join(dir, "noise.bin"), noise, 0o644))
		}, []string{"bytes compressed", "1048576"}},
		{"over the uncompressed cap", func(t *testing.T, dir, _ string) {
			must(t, os.WriteFile(filepath.Join(dir, "sparse.bin"), nil, 0o644))
			must(t, os.Truncate(filepath.Join(dir, "sparse.bin"), MaxUnpackedBytes+1))
		}, []string{"67108864"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			outside := t.TempDir()
			must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("s3cret"), 0o600))
			dir := filepath.Join(t.TempDir(), "files")
			writeTree(t, dir, []treeEntry{{"compose.yaml", 0o644, "x"}})
			c.setup(t, dir, outside)
			data, err := Bundle(dir)
			if err == nil {
				t.Fatalf("accepted; %d bytes", len(data))
			}
			if data != nil {
				t.Error("returned data with the error")
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Field != "files" {
				t.Errorf("not a config error about files: %#v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.ContainsAny(err.Error(), "\x1b\r") {
				t.Errorf("error %q holds a raw control character from a file name", err)
			}
		})
	}
}

func TestBundleMissingFolder(t *testing.T) {
	_, err := Bundle(filepath.Join(t.TempDir(), "nope"))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// craft builds a gzip'd tar from headers; a regular file's content is
// strings.Repeat("x", Size) unless body is set.
type craftEntry struct {
	hdr  tar.Header
	body []byte
}

func craft(t testing.TB, entries ...craftEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := e.hdr
		if hdr.Typeflag == tar.TypeReg && e.body == nil {
			e.body = bytes.Repeat([]byte("x"), int(hdr.Size))
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		must(t, tw.WriteHeader(&hdr))
		if len(e.body) > 0 {
			if _, err := tw.Write(e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	must(t, tw.Close())
	must(t, zw.Close())
	return buf.Bytes()
}

func file(name string, size int64) craftEntry {
	return craftEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Size: size}}
}

func TestExtractBundleRefuses(t *testing.T) {
	many := make([]craftEntry, maxBundleEntries+1)
	for i := range many {
		many[i] = file(fmt.Sprintf("f%06d", i), 0)
	}
	var bomb bytes.Buffer
	{
		zw := gzip.NewWriter(&bomb)
		tw := tar.NewWriter(zw)
		must(t, tw.WriteHeader(&tar.Header{Name: "bomb", Typeflag: tar.TypeReg, Size: MaxUnpackedBytes + 1, Mode: 0o644}))
		chunk := make([]byte, 1<<20)
		for n := int64(0); n < MaxUnpackedBytes+1; n += int64(len(chunk)) {
			tw.Write(chunk[:min(int64(len(chunk)), MaxUnpackedBytes+1-n)])
		}
		must(t, tw.Close())
		must(t, zw.Close())
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"dotdot", craft(t, file("../x", 1))},
		{"dotdot inside", craft(t, file("a/../../x", 1))},
		{"dotdot folder", craft(t, craftEntry{hdr: tar.Header{Name: "../", Typeflag: tar.TypeDir}})},
		{"absolute", craft(t, file("/abs", 1))},
		{"absolute folder", craft(t, craftEntry{hdr: tar.Header{Name: "/tmp/", Typeflag: tar.TypeDir}})},
		{"dot slash", craft(t, file("./x", 1))},
		{"empty segment", craft(t, file("a//x", 1))},
		{"trailing slash on a file", gz(t, rawEntry("x/", tar.TypeReg, "abc"))},
		{"raw dotdot", gz(t, rawEntry("../raw", tar.TypeReg, "abc"))},
		{"raw absolute", gz(t, rawEntry("/raw", tar.TypeReg, "abc"))},
		{"newline in name", craft(t, file("a\nb", 1))},
		{"symlink", craft(t, craftEntry{hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}})},
		{"symlink then write through it", craft(t,
			craftEntry{hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: ".."}},
			file("link/escaped", 1))},
		{"hard link", craft(t, file("a", 1), craftEntry{hdr: tar.Header{Name: "b", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}})},
		{"char device", craft(t, craftEntry{hdr: tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}})},
		{"fifo", craft(t, craftEntry{hdr: tar.Header{Name: "pipe", Typeflag: tar.TypeFifo}})},
		{"duplicate", craft(t, file("a", 1), file("a", 2))},
		{"duplicate folder", craft(t, craftEntry{hdr: tar.Header{Name: "d/", Typeflag: tar.TypeDir}}, craftEntry{hdr: tar.Header{Name: "d/", Typeflag: tar.TypeDir}})},
		{"folder over a file", craft(t, file("a", 1), craftEntry{hdr: tar.Header{Name: "a/", Typeflag: tar.TypeDir}})},
		{"file inside a file", craft(t, file("a", 1), file("a/b", 1))},
		{"file over an implicit folder", craft(t, file("a/b", 1), file("a", 1))},
		{"too deep", craft(t, file(strings.Repeat("d/", maxEntryDepth)+"f", 1))},
		{"too many entries", craft(t, many...)},
		{"zip bomb", bomb.Bytes()},
		{"not gzip", []byte("hello, world")},
		{"truncated", craft(t, file("a", 100))[:40]},
		{"over the compressed cap", make([]byte, MaxBundleBytes+1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "release")
			must(t, os.Mkdir(dir, 0o755))
			err := ExtractBundle(c.data, dir)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrBadBundle) {
				t.Errorf("error does not wrap ErrBadBundle: %v", err)
			}
			t.Log(err)
			assertOnly(t, parent, "release")
			assertOnly(t, dir)
		})
	}
}

// assertOnly fails unless dir holds exactly names.
func assertOnly(t testing.TB, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, "\n") != strings.Join(names, "\n") {
		t.Fatalf("%s holds %q, want %q", dir, got, names)
	}
}

func TestExtractBundleNeedsEmptyFolder(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "old"), nil, 0o644))
	if err := ExtractBundle(craft(t, file("a", 1)), dir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("got %v", err)
	}
	if err := ExtractBundle(craft(t, file("a", 1)), filepath.Join(dir, "missing")); err == nil {
		t.Fatal("extracted into a missing folder")
	}
}

// Bundles made by other tools may leave out folder entries.
func TestExtractBundleImplicitFolders(t *testing.T) {
	dir := t.TempDir()
	data := craft(t, file("a/b/c.txt", 3), craftEntry{hdr: tar.Header{Name: "a/", Typeflag: tar.TypeDir, Mode: 0o750}})
	if err := ExtractBundle(data, dir); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, "a"))
	if err != nil || info.Mode().Perm() != 0o750 {
		t.Fatalf("a: %v %v", info, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "a", "b", "c.txt")); err != nil || string(b) != "xxx" {
		t.Fatalf("c.txt: %q %v", b, err)
	}
}

// rawEntry builds a ustar entry by hand, for names archive/tar refuses to
// write, followed by the end-of-archive blocks.
func rawEntry(name string, typ byte, content string) []byte {
	hdr := make([]byte, 512)
	copy(hdr[0:100], name)
	copy(hdr[100:108], fmt.Sprintf("%07o\x00", 0o644))
	copy(hdr[108:116], "0000000\x00")
	copy(hdr[116:124], "0000000\x00")
	copy(hdr[124:136], fmt.Sprintf("%011o\x00", len(content)))
	copy(hdr[136:148], "00000000000\x00")
	hdr[156] = typ
	copy(hdr[257:265], "ustar\x0000")
	copy(hdr[148:156], "        ")
	sum := 0
	for _, b := range hdr {
		sum += int(b)
	}
	copy(hdr[148:156], fmt.Sprintf("%06o\x00 ", sum))
	body := make([]byte, (len(content)+511)/512*512)
	copy(body, content)
	out := append(hdr, body...)
	return append(out, make([]byte, 1024)...)
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(data)
	must(t, err)
	must(t, zw.Close())
	return buf.Bytes()
}
