package commands

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestBuilders(t *testing.T) {
	l := Layout{Base: "/srv/my apps/web"}
	c := Compose{Layout: l, Project: "web", Version: "20251121050000"}
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"ensure base", l.EnsureBase().String(), `mkdir -p -- '/srv/my apps/web'`},
		{"inspect", l.Inspect().String(), `cd '/srv/my apps/web' && find . -mindepth 1 -maxdepth 2 '(' -path './*/.hoist-failed' -o -path './*/.hoist-good' -o -path './*/.hoist-current-at' -o '!' -path './*/*' ')' -printf '%y\t%T@\t%l\t%P\0'`},
		{"switch", l.SwitchCurrent("20251121050000").String(), `cd '/srv/my apps/web' && test -d 20251121050000 && ln -sfn 20251121050000 .current.tmp && mv -T .current.tmp current && touch -- '/srv/my apps/web/20251121050000/.hoist-current-at'`},
		{"mark failed", l.MarkFailed("v2").String(), `touch -- '/srv/my apps/web/v2/.hoist-failed' && rm -f -- '/srv/my apps/web/v2/.hoist-good'`},
		{"mark good", l.MarkGood("v2", []string{"api", "worker"}).String(), `rm -f -- '/srv/my apps/web/v2/.hoist-failed' && tee -- '/srv/my apps/web/v2/.hoist-good.tmp' && mv -T -- '/srv/my apps/web/v2/.hoist-good.tmp' '/srv/my apps/web/v2/.hoist-good'`},
		{"good services", l.GoodServices("v2").String(), `cat -- '/srv/my apps/web/v2/.hoist-good'`},
		{"locked", l.Locked(l.SwitchCurrent("v2")).String(), `exec 9>>'/srv/my apps/web/.hoist-lock' && flock --wait 600 --conflict-exit-code 75 9 && cd '/srv/my apps/web' && test -d v2 && ln -sfn v2 .current.tmp && mv -T .current.tmp current && touch -- '/srv/my apps/web/v2/.hoist-current-at'`},
		{"clear failed", l.ClearFailed("v2").String(), `rm -f -- '/srv/my apps/web/v2/.hoist-failed'`},
		{"remove", l.RemoveReleases("v1", "v0").String(), `rm -rf -- '/srv/my apps/web/v1' '/srv/my apps/web/v0'`},
		{"pull", c.Pull().String(), `cd '/srv/my apps/web/20251121050000' && docker --config '/srv/my apps/web/.docker' compose --project-name web pull --quiet`},
		{"hook", c.RunHook("db-migrate").String(), `cd '/srv/my apps/web/20251121050000' && docker --config '/srv/my apps/web/.docker' compose --project-name web run --rm --no-deps -T db-migrate`},
		{"up", c.Up().String(), `cd '/srv/my apps/web/20251121050000' && date -u +%Y-%m-%dT%H:%M:%S.%NZ && docker --config '/srv/my apps/web/.docker' compose --project-name web up --detach --remove-orphans`},
		{"down", c.Down().String(), `cd '/srv/my apps/web/20251121050000' && docker --config '/srv/my apps/web/.docker' compose --project-name web down --remove-orphans`},
		{"ids", c.ContainerIDs("api", "worker").String(), `cd '/srv/my apps/web/20251121050000' && docker --config '/srv/my apps/web/.docker' compose --project-name web ps --all --quiet api worker`},
		{"ids by label", c.ContainerIDsByLabel().String(), `docker --config '/srv/my apps/web/.docker' ps --all --quiet --no-trunc --filter 'label=com.docker.compose.project=web' --filter 'label=com.docker.compose.config-hash'`},
		{"ids by label, one service", c.ContainerIDsByLabel("api").String(), `docker --config '/srv/my apps/web/.docker' ps --all --quiet --no-trunc --filter 'label=com.docker.compose.project=web' --filter 'label=com.docker.compose.config-hash' --filter 'label=com.docker.compose.service=api'`},
		{"ids by label, two services", c.ContainerIDsByLabel("api", "worker").String(), `docker --config '/srv/my apps/web/.docker' ps --all --quiet --no-trunc --filter 'label=com.docker.compose.project=web' --filter 'label=com.docker.compose.config-hash'`},
		{"stop", c.Stop().String(), `cd '/srv/my apps/web/20251121050000' && docker --config '/srv/my apps/web/.docker' compose --project-name web stop`},
		{"logs", ContainerLogs("abc", 5).String(), `docker logs --tail 5 abc`},
		{"save logs", c.SaveLogs("20261201T020000Z").String(), `cd '/srv/my apps/web/20251121050000' && mkdir -p -- '/srv/my apps/web/20251121050000/.hoist-logs' && sh -c 'f=$1; shift; "$@" >"$f.tmp" 2>&1; mv -f -- "$f.tmp" "$f"' sh '/srv/my apps/web/20251121050000/.hoist-logs/20261201T020000Z.log' docker --config '/srv/my apps/web/.docker' compose --project-name web logs --no-color --timestamps`},
		{"env files", c.ReadEnvFiles([]string{".env", "./conf/app.env"}).String(), `cat -- '/srv/my apps/web/20251121050000/.env' '/srv/my apps/web/20251121050000/conf/app.env'`},
		{"login", RegistryLogin(l.DockerConfig(), "r.example:5000", "ci", []byte("pw")).String(), `docker --config '/srv/my apps/web/.docker' login --username ci --password-stdin r.example:5000`},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("%s:\n got  %s\n want %s", tc.name, tc.got, tc.want)
		}
	}
	login := RegistryLogin("/srv/web/.docker", "r", "u", []byte("s3cret"))
	if string(login.Stdin) != "s3cret" || strings.Contains(login.String(), "s3cret") {
		t.Errorf("password must travel on stdin only: %q", login.String())
	}
	insp := InspectContainers("a1", "b2")
	if got := insp.Steps[1]; insp.Steps[0][0] != "date" || got[len(got)-2] != "a1" || got[len(got)-1] != "b2" || got[4] != "--format" {
		t.Errorf("inspect argv: %q", got)
	}
}

func TestBuildersRefuseUnsafePaths(t *testing.T) {
	bad := []func(){
		func() { Layout{Base: "/"}.RemoveReleases("v1") },
		func() { Layout{Base: ""}.RemoveReleases("v1") },
		func() { Layout{Base: "srv/app"}.RemoveReleases("v1") },
		func() { Layout{Base: "/srv/../etc"}.RemoveReleases("v1") },
		func() { Layout{Base: "/srv/app"}.RemoveReleases("") },
		func() { Layout{Base: "/srv/app"}.RemoveReleases("..") },
		func() { Layout{Base: "/srv/app"}.RemoveReleases(".") },
		func() { Layout{Base: "/srv/app"}.RemoveReleases("a/b") },
		func() { Layout{Base: "/srv/app"}.RemoveReleases("current") },
		func() { Layout{Base: "/srv/app"}.SwitchCurrent("../x") },
		func() { Layout{Base: "/srv/app"}.MarkFailed("$(id)") },
		func() { Layout{Base: "/"}.Inspect() },
	}
	for i, f := range bad {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("case %d: unsafe path accepted", i)
				}
			}()
			f()
		}()
	}
}

func TestParseState(t *testing.T) {
	out := "d\t1\t\t20251121030000\x00d\t1\t\t20251121050000\x00l\t1\t20251121050000\tcurrent\x00" +
		"d\t1\t\t20251121040000\x00f\t1\t\t20251121040000/.hoist-failed\x00f\t1\t\tstray.txt\x00l\t1\tx\t.current.tmp\x00d\t1\t\tnot a version\x00"
	got := ParseState(out)
	want := State{Current: "20251121050000", Releases: []Release{
		{Version: "20251121050000"}, {Version: "20251121040000", Failed: true}, {Version: "20251121030000"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if s := ParseState("l\t1\t/srv/app/v7/\tcurrent\x00d\t1\t\tv7\x00"); s.Current != "v7" {
		t.Errorf("absolute link target: current %q", s.Current)
	}
	if s := ParseState(""); s.Current != "" || len(s.Releases) != 0 {
		t.Errorf("empty: %+v", s)
	}
}

func TestSortNewestFirst(t *testing.T) {
	vs := []string{"v9", "v10", "20251121030000", "20251121050000", "v1.2", "v1.10", "a"}
	SortNewestFirst(vs)
	want := []string{"v10", "v9", "v1.10", "v1.2", "a", "20251121050000", "20251121030000"}
	if !reflect.DeepEqual(vs, want) {
		t.Fatalf("got %v want %v", vs, want)
	}
}

func TestJudge(t *testing.T) {
	run := Container{Name: "web-1", Service: "web", Status: "running"}
	cases := []struct {
		name string
		cs   []Container
		want Verdict
	}{
		{"none", nil, Pending},
		{"running", []Container{run}, Healthy},
		{"healthy", []Container{{Name: "a", Status: "running", Health: "healthy"}}, Healthy},
		{"created", []Container{run, {Name: "b", Status: "created"}}, Pending},
		{"exited", []Container{run, {Name: "b", Status: "exited", ExitCode: 1}}, Crashed},
		{"dead", []Container{{Name: "b", Status: "dead"}}, Crashed},
		{"restarting", []Container{{Name: "b", Status: "restarting"}}, Crashed},
		{"restarted but running", []Container{{Name: "b", Status: "running", RestartCount: 1}}, Crashed},
		{"unhealthy", []Container{run, {Name: "b", Status: "running", Health: "unhealthy"}}, Unhealthy},
		{"starting", []Container{{Name: "b", Status: "running", Health: "starting"}}, Unhealthy},
		{"created beats unhealthy", []Container{{Name: "a", Status: "created"}, {Name: "b", Status: "running", Health: "unhealthy"}}, Pending},
	}
	for _, tc := range cases {
		if got, why := Judge(tc.cs); got != tc.want {
			t.Errorf("%s: got %v (%s), want %v", tc.name, got, why, tc.want)
		}
	}
}

func TestParseContainers(t *testing.T) {
	// As docker 20.10 prints them: a healthcheck of the exec form (durations
	// in nanoseconds), a compose network; none and the host's network.
	out := "abc\t/web-web-1\tweb\t0\t2025-11-21T05:00:00.1Z\t{\"Status\":\"running\",\"ExitCode\":0,\"StartedAt\":\"2025-11-21T05:00:00Z\",\"Health\":{\"Status\":\"healthy\",\"FailingStreak\":0}}" +
		"\t{\"Test\":[\"CMD\",\"/app\",\"-healthcheck\"],\"Interval\":30000000000,\"Timeout\":1500000000,\"StartPeriod\":10000000000,\"Retries\":5}" +
		"\t{\"web_default\":{\"IPAMConfig\":null,\"Aliases\":[\"web-web-1\",\"web\"],\"Gateway\":\"172.20.0.1\",\"IPAddress\":\"172.20.0.2\",\"IPPrefixLen\":24,\"GlobalIPv6Address\":\"\"}}\n" +
		"xyz\t/web-db-1\tdb\t2\t2025-11-21T04:00:00Z\t{\"Status\":\"exited\",\"ExitCode\":137,\"StartedAt\":\"2025-11-21T05:00:01Z\"}" +
		"\tnull\t{\"host\":{\"IPAMConfig\":null,\"IPAddress\":\"\",\"GlobalIPv6Address\":\"\"}}\n"
	got := ParseContainers(out)
	if len(got) != 2 || got[0].Name != "web-db-1" || got[0].ExitCode != 137 || got[0].RestartCount != 2 || got[1].Health != "healthy" {
		t.Fatalf("got %+v", got)
	}
	wantHC := &Healthcheck{Test: []string{"CMD", "/app", "-healthcheck"}, Interval: 30 * time.Second, Timeout: 1500 * time.Millisecond, StartPeriod: 10 * time.Second, Retries: 5}
	if !reflect.DeepEqual(got[1].Healthcheck, wantHC) || got[0].Healthcheck != nil {
		t.Fatalf("healthchecks: web %+v, db %+v; want %+v and none", got[1].Healthcheck, got[0].Healthcheck, wantHC)
	}
	if !reflect.DeepEqual(got[1].IPs, []string{"172.20.0.2"}) || !reflect.DeepEqual(got[0].IPs, []string{HostNetworkIP}) {
		t.Fatalf("addresses: web %q, db %q", got[1].IPs, got[0].IPs)
	}
	up := ParseHostClock("2025-11-21T04:30:00.123456789Z\n Container web-web-1 Started\n")
	if up == "" || !got[0].CreatedBefore(up) || got[1].CreatedBefore(up) {
		t.Fatalf("created before %q: db %v web %v", up, got[0].CreatedBefore(up), got[1].CreatedBefore(up))
	}
	if ParseHostClock("Container started") != "" {
		t.Fatal("junk taken for a time")
	}
}
