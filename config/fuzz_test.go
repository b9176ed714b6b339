package config

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/hoist-dev/hoist/rollout"
)

// FuzzParse: Parse never panics, every error is a config error naming the
// file, and every accepted Spec keeps the promises the rest of hoist relies
// on. The invariants are written out again here rather than calling the
// checks under test.
func FuzzParse(f *testing.F) {
	f.Add([]byte(fullConfig))
	f.Add([]byte(base))
	f.Add([]byte(base + issueRollout))
	for _, c := range malformed {
		f.Add([]byte(c.yaml))
	}
	dir := fixture(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data, "hoist.yml", dir)
		if err != nil {
			if s != nil {
				t.Fatal("a spec and an error")
			}
			problems := Problems(err)
			if len(problems) == 0 {
				t.Fatalf("not a config error: %T %v", err, err)
			}
			for _, p := range problems {
				if p.File != "hoist.yml" || p.Msg == "" {
					t.Fatalf("problem without file or message: %#v", p)
				}
			}
			return
		}
		specInvariants(t, s, dir)
	})
}

var (
	fuzzServiceRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	fuzzTargetRe  = regexp.MustCompile(`^([a-z_][a-z0-9_.-]{0,31}@)?([A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9a-f:.]+\]:[0-9]+|[0-9a-f:.]+)(:[0-9]{1,5})?$`)
	fuzzUserRe    = regexp.MustCompile(`^([a-z_][a-z0-9_.-]{0,31})?$`)
)

func specInvariants(t *testing.T, s *Spec, dir string) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("accepted spec breaks an invariant: "+format+"\n%+v", append(args, *s)...)
	}
	if !fuzzServiceRe.MatchString(s.Service) {
		fail("service %q", s.Service)
	}
	rb := s.RemoteBase
	if !strings.HasPrefix(rb, "/") || path.Clean(rb) != rb || rb == "/" || len(rb) > 4096 || strings.Contains(rb, "/../") {
		fail("remote_base %q", rb)
	}
	for _, r := range rb {
		if !unicode.IsPrint(r) || r == unicode.ReplacementChar {
			fail("remote_base %q holds %U", rb, r)
		}
	}
	if !filepath.IsAbs(s.FilesDir) {
		fail("files dir %q", s.FilesDir)
	}
	if info, err := os.Lstat(filepath.Join(s.FilesDir, s.ComposeFile)); err != nil || !info.Mode().IsRegular() {
		fail("compose file %q in %q", s.ComposeFile, s.FilesDir)
	}
	if len(s.Hosts) == 0 {
		fail("no hosts")
	}
	seen := map[string]bool{}
	for _, h := range s.Hosts {
		if !fuzzTargetRe.MatchString(h.Target()) || strings.HasPrefix(h.Address, "-") {
			fail("host target %q", h.Target())
		}
		if !fuzzUserRe.MatchString(h.User) || h.Port < 0 || h.Port > 65535 {
			fail("host %+v", h)
		}
		key := strings.ToLower(h.Target())
		if seen[key] {
			fail("duplicate host %q", key)
		}
		seen[key] = true
		// The target reads back as the same host.
		back, err := Parse([]byte(fmt.Sprintf("service: a\nremote_base: /a\nfiles: dist\nhosts: [%q]\n", h.Target())), "t.yml", dir)
		if err != nil {
			fail("target %q does not parse back: %v", h.Target(), err)
		}
		if got, want := back.Hosts[0], (Host{Address: h.Address, User: h.User, Port: h.Port}); got != want {
			fail("target %q parses back as %+v", h.Target(), got)
		}
	}
	services := map[string]bool{}
	for _, name := range s.Services {
		if services[name] || !regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]*$`).MatchString(name) {
			fail("services %q", s.Services)
		}
		services[name] = true
	}
	if s.Wait.Retries < 1 || s.Wait.Retries > 1000 || s.Wait.Delay <= 0 || s.Wait.Delay > maxDelay {
		fail("wait %+v", s.Wait)
	}
	if s.Health.Unhealthy != "warn" && s.Health.Unhealthy != "rollback" {
		fail("health %q", s.Health.Unhealthy)
	}
	if s.KeepReleases < 1 || s.KeepReleases > 100 {
		fail("keep_releases %d", s.KeepReleases)
	}
	// The spec names a registry server and nothing else: no credential
	// choice survives Parse.
	switch r := s.Registry; r.Type {
	case "none":
		if r != (Registry{Type: "none"}) {
			fail("registry %+v", r)
		}
	case "login":
		if r.Server == "" || strings.ContainsAny(r.Server, "/ $`'\"\\") || r.Username != "" || r.PasswordEnv != "" || r.Region != "" {
			fail("registry %+v", r)
		}
	default:
		fail("registry type %q", r.Type)
	}
	if r := s.Rollout; r != nil {
		// Every batch takes a host, every approval names a batch there is.
		if len(r.Batches) == 0 || r.MaxParallel < 0 || r.Pause < 0 || r.ApprovalTimeout <= 0 ||
			(r.OnFailure != "rollback" && r.OnFailure != "halt") || r.MaxFailed.N < 0 || (r.MaxFailed.Percent && r.MaxFailed.N > 100) {
			fail("rollout %+v", *r)
		}
		for _, b := range r.Batches {
			if b.N < 1 || (b.Percent && b.N > 100) {
				fail("batch size %v", b)
			}
		}
		n := len(rollout.Counts(len(s.Hosts), r.Batches))
		for _, a := range r.ApproveAfter {
			if a < 1 || a > n {
				fail("approve_after %d of %d batches", a, n)
			}
		}
	}
	if err := s.Validate(); err != nil {
		fail("Validate: %v", err)
	}
	data, err := json.Marshal(s)
	if err != nil {
		fail("JSON: %v", err)
	}
	var back Spec
	if err := json.Unmarshal(data, &back); err != nil {
		fail("JSON: %v", err)
	}
	want := *s
	want.FilesDir = ""
	if len(want.Services) == 0 {
		want.Services = nil
	}
	if !reflect.DeepEqual(back, want) {
		fail("JSON round trip gives %+v", back)
	}
}

// FuzzExtractBundle: whatever the bundle, nothing is written outside the
// folder, nothing but files and folders is created inside it, and a refused
// bundle leaves the folder empty. Inputs that are not gzip are gzip'd first,
// so the fuzzer works on the tar structure.
func FuzzExtractBundle(f *testing.F) {
	src := f.TempDir()
	writeTree(f, src, sampleTree)
	good, err := Bundle(src)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(tarBytes(f, file("a/b.txt", 3)))
	f.Add(tarBytes(f, file("../x", 1)))
	f.Add(tarBytes(f, file("/abs", 1)))
	f.Add(tarBytes(f, craftEntry{hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: ".."}}, file("link/escaped", 1)))
	f.Add(tarBytes(f, craftEntry{hdr: tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o500}}, file("d/x", 1)))
	f.Add(rawEntry("../raw", tar.TypeReg, "abc"))
	f.Add(rawEntry("x/", tar.TypeReg, "abc"))

	// One gzip writer for all inputs: making one costs more than the rest
	// of an input's run. Inputs run one at a time within a worker.
	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		makeRemovable(t, parent)
		dir := filepath.Join(parent, "release")
		must(t, os.Mkdir(dir, 0o755))
		must(t, os.WriteFile(filepath.Join(parent, "sentinel"), []byte("keep"), 0o644))
		if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			zbuf.Reset()
			zw.Reset(&zbuf)
			zw.Write(data)
			must(t, zw.Close())
			data = zbuf.Bytes()
		}
		err := ExtractBundle(data, dir)

		// Open up read-only folders so that the checks can look inside.
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
		assertOnly(t, parent, "release", "sentinel")
		if b, _ := os.ReadFile(filepath.Join(parent, "sentinel")); string(b) != "keep" {
			t.Fatal("sentinel changed")
		}
		if err != nil {
			assertOnly(t, dir)
			return
		}
		var total int64
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			if !d.Type().IsDir() && !d.Type().IsRegular() {
				t.Fatalf("%s is a %v", p, d.Type())
			}
			if info, err := d.Info(); err == nil && d.Type().IsRegular() {
				total += info.Size()
			}
			return nil
		})
		if total > MaxUnpackedBytes {
			t.Fatalf("extracted %d bytes", total)
		}
	})
}

// tarBytes is craft without the gzip.
func tarBytes(t testing.TB, entries ...craftEntry) []byte {
	t.Helper()
	zr := mustGunzip(t, craft(t, entries...))
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(zr); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
