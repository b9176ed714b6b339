package commands

import (
	"reflect"
	"testing"
)

func TestSlotBuilders(t *testing.T) {
	l := Layout{Base: "/srv/my apps/shop"}
	slot := Compose{Layout: l, Project: SlotProject("shop", SlotB), Version: "v2", File: "compose.yaml", Override: "/srv/my apps/shop/.proxy/slot-override.yaml"}
	run := ProxyRun{Name: ProxyContainer("shop"), Network: ProxyNetwork("shop"), Listen: "0.0.0.0:80", Image: "caddy:2.11.9",
		Dir: l.ProxyDir(), Digest: "0123abcd", DockerConfig: l.DockerConfig()}
	cases := []struct{ name, got, want string }{
		{"slot up", slot.Up().String(), `cd '/srv/my apps/shop/v2' && date -u +%Y-%m-%dT%H:%M:%S.%NZ && docker --config '/srv/my apps/shop/.docker' compose --project-name shop-b --file compose.yaml --file '/srv/my apps/shop/.proxy/slot-override.yaml' up --detach --remove-orphans`},
		{"slot stop", slot.Stop().String(), `cd '/srv/my apps/shop/v2' && docker --config '/srv/my apps/shop/.docker' compose --project-name shop-b --file compose.yaml --file '/srv/my apps/shop/.proxy/slot-override.yaml' stop`},
		{"write dial", l.WriteProxyFile("upstream/dial", []byte("x")).String(), `mkdir -p -- '/srv/my apps/shop/.proxy/upstream' && tee -- '/srv/my apps/shop/.proxy/upstream/.dial.tmp' && mv -T -- '/srv/my apps/shop/.proxy/upstream/.dial.tmp' '/srv/my apps/shop/.proxy/upstream/dial'`},
		{"write config", l.WriteProxyFile("caddy.json", []byte("{}")).String(), `mkdir -p -- '/srv/my apps/shop/.proxy' && tee -- '/srv/my apps/shop/.proxy/.caddy.json.tmp' && mv -T -- '/srv/my apps/shop/.proxy/.caddy.json.tmp' '/srv/my apps/shop/.proxy/caddy.json'`},
		{"read upstream", l.ReadUpstream().String(), `cat -- '/srv/my apps/shop/.proxy/upstream/dial'`},
		{"network exists", NetworkExists("hoist-shop").String(), `docker network inspect --format '{{.Name}}' hoist-shop`},
		{"network create", CreateNetwork("hoist-shop").String(), `docker network create --label 'org.hoist.network=zero-downtime' hoist-shop`},
		{"inspect proxy", InspectProxy("hoist-proxy-shop").String(), `docker inspect --type container --format '{{.State.Running}} {{index .Config.Labels "org.hoist.proxy"}}' hoist-proxy-shop`},
		{"run proxy", RunProxy(run).String(), `docker --config '/srv/my apps/shop/.docker' run --detach --name hoist-proxy-shop --network hoist-shop --restart unless-stopped --label 'org.hoist.proxy=0123abcd' --publish 0.0.0.0:80:80 --volume '/srv/my apps/shop/.proxy:/etc/hoist-proxy:ro' caddy:2.11.9 caddy run --config /etc/hoist-proxy/caddy.json`},
		{"start", StartContainer("hoist-proxy-shop").String(), `docker start hoist-proxy-shop`},
		{"running", ContainerRunning("shop-b-web-1").String(), `docker inspect --type container --format '{{.State.Running}}' shop-b-web-1`},
		{"remove", RemoveContainer("hoist-proxy-shop").String(), `docker rm --force hoist-proxy-shop`},
		{"slot containers", SlotContainers().String(), `docker ps --all --format '{{.Label "com.docker.compose.project"}}	{{.Label "com.docker.compose.project.working_dir"}}	{{.State}}' --filter 'label=com.docker.compose.project'`},
		{"dial", SlotDial("shop", SlotA, "web", 8080), `shop-a-web-1:8080`},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.name, c.got, c.want)
		}
	}
	if err := slot.Up().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"../x", "dial", "upstream/../../x", ""} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WriteProxyFile(%q) built a command", bad)
				}
			}()
			l.WriteProxyFile(bad, nil)
		}()
	}
}

func TestParseSlots(t *testing.T) {
	out := "shop-a\t/srv/shop/v1\texited\nshop-b\t/srv/shop/v2\trunning\nshop-b\t/srv/shop/v2\trunning\nshop\t/elsewhere/v0\trunning\nother-a\t/srv/shop/v1\trunning\n\n"
	got := ParseSlotContainers(out, "shop", "/srv/shop")
	want := map[string]SlotInfo{
		"shop-a": {Version: "v1", Total: 1},
		"shop-b": {Version: "v2", Running: 2, Total: 2},
		"shop":   {Running: 1, Total: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for dial, want := range map[string]string{"shop-a-web-1:8080\n": SlotA, "shop-b-web-1:8080": SlotB, "": "", "other-a-web-1:80": "", "shop-c-web-1:80": ""} {
		if got := ParseUpstream(dial, "shop"); got != want {
			t.Errorf("ParseUpstream(%q) = %q, want %q", dial, got, want)
		}
	}
	if OtherSlot(SlotA) != SlotB || OtherSlot(SlotB) != SlotA || OtherSlot("") != SlotA {
		t.Error("OtherSlot")
	}
}
