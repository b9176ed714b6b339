package commands

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/remote"
)

// Remote-side safety: every path a builder removes, renames, links,
// touches or creates lies under remote_base, whatever the input, and the
// rendered command line is what the argv says when remote_base holds
// spaces, quotes or shell syntax. A builder refuses (panics, or Release
// returns an error) any base or version it cannot act on safely.
//
// The proof reads the argv back from the rendered string through a real
// shell (every command name is a shell function that prints its
// arguments), so what is checked is what the host's shell would run.

// built is one builder's command, or its refusal.
type built struct {
	name      string
	versioned bool // takes a version; refused for an invalid one
	cmd       remote.Command
	refused   any // the panic value or error when the builder refused
}

// buildAll runs every builder that touches the file system under
// remote_base on base and version, recovering refusals.
func buildAll(base, version string) []built {
	l := Layout{Base: base}
	c := Compose{Layout: l, Project: "web", Version: version}
	var out []built
	add := func(name string, versioned bool, f func() remote.Command) {
		b := built{name: name, versioned: versioned}
		func() {
			defer func() { b.refused = recover() }()
			b.cmd = f()
		}()
		out = append(out, b)
	}
	add("EnsureBase", false, l.EnsureBase)
	add("Inspect", false, l.Inspect)
	add("BaseExists", false, l.BaseExists)
	add("SwitchCurrent", true, func() remote.Command { return l.SwitchCurrent(version) })
	add("MarkFailed", true, func() remote.Command { return l.MarkFailed(version) })
	add("ClearFailed", true, func() remote.Command { return l.ClearFailed(version) })
	add("MarkGood", true, func() remote.Command { return l.MarkGood(version, []string{"web"}) })
	add("GoodServices", true, func() remote.Command { return l.GoodServices(version) })
	add("Locked", true, func() remote.Command { return l.Locked(c.Up()) })
	add("Locked/switch", true, func() remote.Command { return l.Locked(l.SwitchCurrent(version)) })
	add("RemoveReleases", true, func() remote.Command { return l.RemoveReleases(version) })
	add("RemoveReleases/2", true, func() remote.Command { return l.RemoveReleases("v1", version) })
	add("Compose.Pull", true, c.Pull)
	add("Compose.Up", true, c.Up)
	add("Compose.RunHook", true, func() remote.Command { return c.RunHook("migrate") })
	add("Compose.Down", true, c.Down)
	add("Compose.Stop", true, c.Stop)
	add("Compose.ContainerIDs", true, func() remote.Command { return c.ContainerIDs("web") })
	add("Compose.ContainerIDsByLabel", false, func() remote.Command { return c.ContainerIDsByLabel("web") })
	add("Compose.SaveLogs", true, func() remote.Command { return c.SaveLogs("20261201T020000Z") })
	slot := Compose{Layout: l, Project: "web-b", Version: version, File: "compose.yaml", Override: path.Join(l.ProxyDir(), SlotOverrideFile)}
	add("Compose.Up/slot", true, slot.Up)
	add("Compose.Down/slot", true, slot.Down)
	add("WriteProxyFile/dial", false, func() remote.Command { return l.WriteProxyFile("upstream/dial", []byte("web-a-web-1:8080")) })
	add("WriteProxyFile/config", false, func() remote.Command { return l.WriteProxyFile(ProxyConfigFile, []byte("{}")) })
	add("ReadUpstream", false, l.ReadUpstream)
	add("Compose.ReadEnvFiles", true, func() remote.Command { return c.ReadEnvFiles([]string{".env", "conf/app.env"}) })
	// SyncRelease uploads to Release(version) (sshexec.Upload: a temporary
	// sibling in path.Dir of it, renamed over it); modelled as the rename
	// the upload does, so the same checks apply to its paths.
	add("Release (upload)", true, func() remote.Command {
		dir, err := l.Release(version)
		if err != nil {
			panic(err)
		}
		tmp := path.Join(path.Dir(dir), "."+path.Base(dir)+".tmp-0123456789abcdef")
		return remote.Cmd("mv", "-T", "--", tmp, dir)
	})
	return out
}

// covered are the builders buildAll exercises; pathless ones take no base
// and act on no path (checked below to have no directory and no file
// operation). TestEveryBuilderCovered fails on a builder in neither list.
var (
	covered = []string{"Layout.EnsureBase", "Layout.Inspect", "Layout.BaseExists", "Layout.SwitchCurrent",
		"Layout.MarkFailed", "Layout.ClearFailed", "Layout.MarkGood", "Layout.GoodServices", "Layout.Locked",
		"Layout.RemoveReleases", "Layout.Release",
		"Compose.Pull", "Compose.Up", "Compose.RunHook", "Compose.Down", "Compose.Stop", "Compose.ContainerIDs", "Compose.ContainerIDsByLabel", "Compose.SaveLogs", "Compose.ReadEnvFiles",
		"Layout.WriteProxyFile", "Layout.ReadUpstream"}
	pathless = map[string]remote.Command{
		"ContainerLogs":     ContainerLogs("abc", 5),
		"InspectContainers": InspectContainers("a1", "b2"),
		"ProjectContainers": ProjectContainers("web"),
		"RegistryLogin":     RegistryLogin("/srv/web/.docker", "r.example:5000", "ci", []byte("pw")),
		"NetworkExists":     NetworkExists("hoist-web"),
		"CreateNetwork":     CreateNetwork("hoist-web"),
		"InspectProxy":      InspectProxy("hoist-proxy-web"),
		"StartContainer":    StartContainer("hoist-proxy-web"),
		"ContainerRunning":  ContainerRunning("web-b-web-1"),
		"RemoveContainer":   RemoveContainer("hoist-proxy-web"),
		"SlotContainers":    SlotContainers(),
		"RunHealthcheck":    RunHealthcheck("a1", []string{"/bin/sh", "-c", "curl -f http://localhost/ || exit 1"}, DefaultHealthcheckTimeout),
		"RunProxy": RunProxy(ProxyRun{Name: "hoist-proxy-web", Network: "hoist-web", Listen: "0.0.0.0:80", Image: "caddy:2.11.9",
			Dir: "/srv/web/.proxy", Digest: "0123", DockerConfig: "/srv/web/.docker"}),
	}
)

// fileOps are the commands that change the file system, with the only
// options hoist passes them. An option not listed (one injected through
// an argument read as an option) fails the check.
var fileOps = map[string][]string{
	"rm":    {"-f", "-rf"},
	"mv":    {"-T"},
	"ln":    {"-sfn"},
	"touch": nil,
	"mkdir": {"-p"},
	"tee":   nil,
}

// hoistNames are hoist's own entries under remote_base a relative operand
// may name besides a release.
var hoistNames = []string{CurrentLink, tmpLinkName}

// shellNames are every command name a builder runs; in the parse-back
// script each is a function printing its argv, NUL-separated, then \x01.
var shellNames = []string{"cd", "rm", "mv", "ln", "touch", "mkdir", "test", "find", "docker", "date", "tee", "cat", "sh", "lockfile", "timeout"}

var shells = func() []string {
	s := []string{"/bin/sh"}
	if _, err := exec.LookPath("bash"); err == nil {
		s = append(s, "bash")
	}
	return s
}()

// parseBack renders cmds, runs them through shell with every command
// name replaced by a printing function, and returns each command's argv
// steps as the shell split them (a cd to the directory first).
func parseBack(t testing.TB, shell string, cmds []remote.Command) [][][]string {
	t.Helper()
	var script strings.Builder
	for _, n := range shellNames {
		fmt.Fprintf(&script, "%s() { printf '%%s\\0' %s \"$@\"; printf '\\1\\0'; }\n", n, n)
	}
	script.WriteString("sep() { printf '\\2\\0'; }\n")
	for _, c := range cmds {
		script.WriteString(lockAsStep(c).String() + "\nsep\n")
	}
	// The script goes on stdin: with a 4000-byte base it outgrows argv.
	sh := exec.Command(shell, "-s")
	sh.Stdin = strings.NewReader(script.String())
	out, err := sh.Output()
	if err != nil {
		t.Fatalf("%s: %v\nscript:\n%.4000s", shell, err, script.String())
	}
	var all [][][]string
	var steps [][]string
	var argv []string
	words := bytes.Split(out, []byte{0})
	for _, w := range words[:len(words)-1] {
		switch string(w) {
		case "\x01":
			steps, argv = append(steps, argv), nil
		case "\x02":
			all, steps = append(all, steps), nil
		default:
			argv = append(argv, string(w))
		}
	}
	if len(all) != len(cmds) || argv != nil || steps != nil {
		t.Fatalf("%s: %d commands came back as %d\nscript:\n%.4000s\noutput %.4000q", shell, len(cmds), len(all), script.String(), out)
	}
	return all
}

// lockAsStep stands for a locked command's "exec 9>>LOCK && flock ... 9"
// prefix (which the parse-back shell cannot run: it would open the file)
// with a "lockfile LOCK" step: the lock file word goes through the same
// quoting, and checkSafe proves where it lies. TestBuilders checks the
// prefix's exact text.
func lockAsStep(c remote.Command) remote.Command {
	if c.Lock == "" {
		return c
	}
	c.Steps = append([][]string{{"lockfile", c.Lock}}, c.Steps...)
	c.Lock = ""
	return c
}

// wantSteps is the argv the command means: cd DIR first when it has one.
func wantSteps(c remote.Command) [][]string {
	c = lockAsStep(c)
	var s [][]string
	if c.Dir != "" {
		s = append(s, []string{"cd", c.Dir})
	}
	return append(s, c.Steps...)
}

// under reports what is wrong with p as a path strictly under base.
func under(base, p string) string {
	switch {
	case p == "" || p == "/":
		return "is empty or /"
	case p != path.Clean(p):
		return "is not clean"
	case p == base:
		return "is remote_base itself"
	case !strings.HasPrefix(p, base+"/"):
		return "is not under remote_base"
	}
	return ""
}

// checkSafe checks one accepted command, given as the argv the shell split
// it into, against base: every file operation's operands lie strictly
// under base (mkdir may create base itself), relative operands are single
// release or hoist names resolved in base, and nothing is read as an
// option that hoist did not pass.
func checkSafe(base string, steps [][]string) error {
	if !path.IsAbs(base) || path.Clean(base) != base || base == "/" {
		return fmt.Errorf("accepted base %q: not absolute, not clean, or /", base)
	}
	dir := ""
	for i, argv := range steps {
		name := argv[0]
		if name == "cd" {
			if i != 0 || len(argv) != 2 {
				return fmt.Errorf("cd %q: want one cd, first", argv[1:])
			}
			if dir = argv[1]; dir != base {
				if why := under(base, dir); why != "" {
					return fmt.Errorf("cd %q: %s", dir, why)
				}
				// Only a release folder: base/VERSION.
				if path.Dir(dir) != base || !IsVersion(path.Base(dir)) {
					return fmt.Errorf("cd %q: not remote_base or a release folder in it", dir)
				}
			}
			continue
		}
		if name == "lockfile" {
			if len(argv) != 2 || argv[1] != base+"/"+lockName {
				return fmt.Errorf("lock %q: want remote_base/%s", argv[1:], lockName)
			}
			continue
		}
		if name == "sh" {
			// Compose.SaveLogs: only the fixed toFile script, writing one
			// file under base, then the step whose output it keeps.
			if len(argv) < 6 || argv[1] != "-c" || argv[2] != toFile || argv[3] != "sh" {
				return fmt.Errorf("sh %q: only the fixed toFile script may run", argv[1:])
			}
			if why := under(base, argv[4]); why != "" {
				return fmt.Errorf("sh toFile %q: the file %s", argv[4], why)
			}
			if err := checkSafe(base, append(steps[:i:i], argv[5:])); err != nil {
				return err
			}
			continue
		}
		opts, known := fileOps[name]
		if !known {
			if name == "find" && slices.ContainsFunc(argv, func(a string) bool {
				return a == "-delete" || strings.HasPrefix(a, "-exec") || strings.HasPrefix(a, "-ok") || strings.HasPrefix(a, "-fprint")
			}) {
				return fmt.Errorf("find %q: changes files", argv[1:])
			}
			if name == "test" { // test -d VERSION before switching
				if len(argv) != 3 || argv[1] != "-d" || (argv[2] != base && !IsVersion(argv[2])) {
					return fmt.Errorf("test %q: want -d and remote_base or a release", argv[1:])
				}
			}
			continue
		}
		var operands []string
		dashdash := false
		for _, a := range argv[1:] {
			switch {
			case dashdash || !strings.HasPrefix(a, "-"):
				operands = append(operands, a)
			case a == "--":
				dashdash = true
			case !slices.Contains(opts, a):
				return fmt.Errorf("%s %q: %q would be read as an option hoist does not pass", name, argv[1:], a)
			}
		}
		if len(operands) == 0 {
			return fmt.Errorf("%s %q: no operand", name, argv[1:])
		}
		if name == "ln" {
			// ln -s TARGET LINK: TARGET is the link's content, resolved
			// next to LINK: a release name keeps current inside base.
			if len(operands) != 2 || !IsVersion(operands[0]) {
				return fmt.Errorf("ln %q: want a release name as the target and one link", argv[1:])
			}
			operands = operands[1:]
		}
		if name == "mv" && len(operands) != 2 {
			return fmt.Errorf("mv %q: want exactly source and destination", argv[1:])
		}
		for _, op := range operands {
			p := op
			if !path.IsAbs(op) {
				if dir != base {
					return fmt.Errorf("%s %q: relative operand %q outside a cd to remote_base", name, argv[1:], op)
				}
				if strings.Contains(op, "/") || !(IsVersion(op) || slices.Contains(hoistNames, op)) {
					return fmt.Errorf("%s %q: relative operand %q is not a release or hoist name", name, argv[1:], op)
				}
				p = base + "/" + op
			}
			if name == "mkdir" && p == base {
				continue // EnsureBase creates remote_base itself
			}
			if why := under(base, p); why != "" {
				return fmt.Errorf("%s %q: operand %q %s", name, argv[1:], op, why)
			}
			if name == "rm" && slices.Contains(argv, "-rf") && (path.Dir(p) != base || !IsVersion(path.Base(p))) {
				return fmt.Errorf("rm -rf of %q: only a release folder directly in remote_base may be removed recursively", p)
			}
		}
	}
	return nil
}

// pair is one base and version to build every builder on.
type pair struct{ base, version string }

// proveSafe builds every builder on each pair and checks each builder
// either refused or, through every shell, built only safe paths. It
// returns, per pair, which builders refused.
func proveSafe(t testing.TB, pairs ...pair) []map[string]bool {
	t.Helper()
	type accepted struct {
		pair
		built
	}
	var ok []accepted
	refused := make([]map[string]bool, len(pairs))
	for i, p := range pairs {
		refused[i] = map[string]bool{}
		for _, b := range buildAll(p.base, p.version) {
			if b.refused != nil {
				refused[i][b.name] = true
				continue
			}
			if err := b.cmd.Validate(); err != nil {
				t.Fatalf("base %q version %q: %s built an invalid command: %v", p.base, p.version, b.name, err)
			}
			ok = append(ok, accepted{p, b})
		}
	}
	if len(ok) == 0 {
		return refused
	}
	cmds := make([]remote.Command, len(ok))
	for i, a := range ok {
		cmds[i] = a.cmd
	}
	for _, sh := range shells {
		got := parseBack(t, sh, cmds)
		for i, a := range ok {
			if want := wantSteps(a.cmd); !reflect.DeepEqual(got[i], want) {
				t.Fatalf("base %q version %q: %s: %s split\n  %s\ninto %q\nwant %q", a.base, a.version, a.name, sh, a.cmd, got[i], want)
			}
			if err := checkSafe(a.base, got[i]); err != nil {
				t.Fatalf("base %q version %q: %s: %v\n  %s", a.base, a.version, a.name, err, a.cmd)
			}
		}
	}
	return refused
}

var longVersion = strings.Repeat("v", 64)

// hostileBases are remote_base values, with whether the builders must
// accept them: absolute, clean, not /, no NUL, CR or LF. Shell syntax in
// an accepted base is only ever data.
var hostileBases = []struct {
	base string
	ok   bool
}{
	{"", false},
	{"/", false},
	{"//", false},
	{"///", false},
	{"srv/app", false},
	{"app", false},
	{".", false},
	{"..", false},
	{"-rf", false},
	{"/..", false},
	{"/srv/..", false},
	{"/srv/../", false},
	{"/srv/../etc", false},
	{"/srv/./app", false},
	{"/srv//app", false},
	{"/srv/app/", false},
	{"/srv/app/.", false},
	{"/srv/a b/", false},
	{"/srv/a\nb", false},
	{"/srv/a\rb", false},
	{"/srv/a\x00b", false},
	{"/srv/app\n", false},
	{"/srv/app", true},
	{"/srv/a b", true},
	{"/srv/my apps/web", true},
	{"/srv/$(reboot)", true},
	{"/srv/`x`", true},
	{"/srv/a;b", true},
	{"/srv/a&&b||c|d", true},
	{"/srv/app's $HOME dir", true},
	{"/srv/e2e/x/my app's $HOME dir", true},
	{`/srv/a"b\c`, true},
	{"/srv/*", true},
	{"/srv/?[a]{b,c}", true},
	{"/srv/~", true},
	{"/srv/#x", true},
	{"/srv/A=b", true},
	{"/srv/-rf", true},
	{"/-rf", true},
	{"/srv/...", true},
	{"/srv/a\tb", true},
	{"/srv/a\x01b", true},
	{"/srv/\xff\xfe", true},
	{"/srv/é €", true},
	{"/" + strings.Repeat("x", 4000), true},
}

// hostileVersions are release versions, with whether the builders must
// accept them (IsVersion: 1-64 of [0-9A-Za-z._-], not "current", not
// starting with '-' or '.').
var hostileVersions = []struct {
	version string
	ok      bool
}{
	{"", false},
	{".", false},
	{"..", false},
	{"current", false},
	{"a/b", false},
	{"../x", false},
	{"/", false},
	{"/etc", false},
	{"*", false},
	{"?", false},
	{"~", false},
	{"a b", false},
	{"$(reboot)", false},
	{"`x`", false},
	{"a;b", false},
	{"v1\n", false},
	{"v1\x00", false},
	{"-rf", false},
	{"-t..", false}, // ln -sfn -t.. would link in the parent of remote_base
	{"--", false},
	{"-", false},
	{"é", false},
	{longVersion + "v", false},
	{longVersion, true},
	{"v1", true},
	{"20251121050000", true},
	{"v-1_2.3", true},
	{"...", false},
	// Hoist's own names, and an interrupted upload's folder, are never
	// releases.
	{".current.tmp", false},
	{FailedMarker, false},
	{".v2.tmp-0123456789abcdef", false},
	{"Current", true},
}

// TestHostileBasesAndVersions builds every builder on every pair of a
// hostile base and version: each refuses exactly when the base or version
// is invalid, and otherwise yields only paths strictly under the base.
func TestHostileBasesAndVersions(t *testing.T) {
	var pairs []pair
	for _, b := range hostileBases {
		for _, v := range hostileVersions {
			pairs = append(pairs, pair{b.base, v.version})
		}
	}
	refused := proveSafe(t, pairs...)
	i := 0
	for _, b := range hostileBases {
		for _, v := range hostileVersions {
			for _, bt := range buildAll(b.base, v.version) {
				want := !b.ok || (bt.versioned && !v.ok)
				if refused[i][bt.name] != want {
					t.Errorf("base %q version %q: %s refused=%v, want %v (%v)", b.base, v.version, bt.name, refused[i][bt.name], want, bt.refused)
				}
			}
			i++
		}
	}
	t.Logf("%d hostile base/version pairs (%d bases x %d versions), %d builders each", len(pairs), len(hostileBases), len(hostileVersions), len(buildAll("/x", "v1")))
}

// TestRemoveReleasesNeverBase: the removal of many releases at once, the
// prune step, names only release folders, never remote_base or above.
func TestRemoveReleasesNeverBase(t *testing.T) {
	var vs []string
	for _, v := range hostileVersions {
		if v.ok {
			vs = append(vs, v.version)
		}
	}
	for _, b := range hostileBases {
		if !b.ok {
			continue
		}
		c := Layout{Base: b.base}.RemoveReleases(vs...)
		for _, sh := range shells {
			got := parseBack(t, sh, []remote.Command{c})[0]
			if err := checkSafe(b.base, got); err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			if n := len(got[0]) - 3; n != len(vs) {
				t.Fatalf("%s: %d paths, want %d", c, n, len(vs))
			}
		}
	}
}

// TestHostListingFeedsOnlySafeVersions: what prune removes and rollback
// switches to comes from ParseState of the host's listing, which holds any
// name a directory can have. Each version it reports is one the builders
// accept; a junk name is never reported, so never acted on.
func TestHostListingFeedsOnlySafeVersions(t *testing.T) {
	var listing strings.Builder
	for _, v := range hostileVersions {
		if strings.Contains(v.version, "\x00") {
			continue // no file name holds a NUL: find cannot list one
		}
		fmt.Fprintf(&listing, "d\t1\t\t%s\x00", v.version)
		fmt.Fprintf(&listing, "f\t1\t\t%s/%s\x00", v.version, FailedMarker)
	}
	listing.WriteString("l\t1\t-t..\tcurrent\x00")
	st := ParseState(listing.String())
	var got []string
	for _, r := range st.Releases {
		got = append(got, r.Version)
	}
	var want []string
	for _, v := range hostileVersions {
		if v.ok {
			want = append(want, v.version)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) || st.Current != "" {
		t.Fatalf("releases %q current %q; want %q and no current", got, st.Current, want)
	}
	var pairs []pair
	for _, v := range got {
		pairs = append(pairs, pair{"/srv/a b", v})
	}
	for i, r := range proveSafe(t, pairs...) {
		if len(r) != 0 {
			t.Errorf("listed release %q refused by %v", got[i], r)
		}
	}
}

// TestPathlessBuilders: the builders that take no base run nowhere in
// particular and change no file.
func TestPathlessBuilders(t *testing.T) {
	for name, c := range pathless {
		if c.Dir != "" {
			t.Errorf("%s runs in %q", name, c.Dir)
		}
		for _, s := range c.Steps {
			if _, ok := fileOps[s[0]]; ok {
				t.Errorf("%s runs %q", name, s)
			}
		}
	}
}

// TestEveryBuilderCovered fails when commands gains a builder returning a
// remote.Command (or Release) that this proof does not exercise.
func TestEveryBuilderCovered(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	found := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || !fn.Name.IsExported() || fn.Type.Results == nil {
				continue
			}
			name := fn.Name.Name
			if fn.Recv != nil {
				recv := fn.Recv.List[0].Type
				if s, ok := recv.(*ast.StarExpr); ok {
					recv = s.X
				}
				id, _ := recv.(*ast.Ident)
				if id == nil {
					continue
				}
				name = id.Name + "." + name
			}
			returnsCommand := false
			for _, r := range fn.Type.Results.List {
				if sel, ok := r.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Command" {
					returnsCommand = true
				}
			}
			if !returnsCommand && name != "Layout.Release" {
				continue
			}
			found++
			if _, ok := pathless[name]; !ok && !slices.Contains(covered, name) {
				t.Errorf("builder %s is not covered by the safety proof: add it to buildAll and covered (or pathless)", name)
			}
		}
	}
	if want := len(covered) + len(pathless); found != want {
		t.Errorf("found %d builders, want the %d listed: a listed one is gone or renamed", found, want)
	}
}

// FuzzRemovalPathsUnderBase: for any base and version, each builder
// refuses or builds, through a real shell, only paths strictly under the
// base. The version is also taken as a directory name on the host, as
// prune and rollback see it through ParseState.
func FuzzRemovalPathsUnderBase(f *testing.F) {
	for _, b := range hostileBases {
		f.Add(b.base, "v1")
	}
	for _, v := range hostileVersions {
		f.Add("/srv/a b", v.version)
	}
	f.Fuzz(func(t *testing.T, base, version string) {
		refused := proveSafe(t, pair{base, version})[0]
		_, relErr := Layout{Base: base}.Release(version)
		baseErr := Layout{Base: base}.checkBase()
		for _, b := range buildAll(base, version) {
			want := baseErr != nil || (b.versioned && relErr != nil)
			if refused[b.name] != want {
				t.Fatalf("base %q version %q: %s refused=%v, want %v (%v)", base, version, b.name, refused[b.name], want, b.refused)
			}
		}
		if baseErr != nil {
			return
		}
		// The host may hold a directory of any name: only one that the
		// builders accept becomes a release hoist acts on.
		st := ParseState("d\t1\t\t" + version + "\x00l\t1\t" + version + "\tcurrent\x00")
		for _, r := range st.Releases {
			if _, err := (Layout{Base: base}).Release(r.Version); err != nil {
				t.Fatalf("listing %q: release %q, but Release refuses it: %v", version, r.Version, err)
			}
		}
		if st.Current != "" {
			if _, err := (Layout{Base: base}).Release(st.Current); err != nil {
				t.Fatalf("current -> %q read as %q, but Release refuses it: %v", version, st.Current, err)
			}
		}
	})
}
