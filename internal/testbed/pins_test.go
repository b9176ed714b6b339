package testbed

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// One Temporal version everywhere: the cluster the test bed builds from
// source (cluster.sh), the images docker-compose.temporal.yml pins for
// users, and README's word on both.
func TestTemporalVersionsAgree(t *testing.T) {
	root := filepath.Join("..", "..")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	script := read("scripts/testbed/cluster.sh")
	pin := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `=v([0-9.]+)$`).FindStringSubmatch(script)
		if m == nil {
			t.Fatalf("cluster.sh pins no %s=vX.Y.Z", name)
		}
		return m[1]
	}
	server, ui := pin("TEMPORAL_SERVER_VERSION"), pin("UI_SERVER_VERSION")

	compose := read("docker-compose.temporal.yml")
	images := regexp.MustCompile(`(?m)^\s*image:\s*(\S+)`).FindAllStringSubmatch(compose, -1)
	want := map[string]string{"temporalio/server": server, "temporalio/admin-tools": server, "temporalio/ui": ui}
	seen := map[string]bool{}
	for _, m := range images {
		name, tag, _ := strings.Cut(m[1], ":")
		if name == "temporalio/auto-setup" {
			t.Errorf("docker-compose.temporal.yml uses the deprecated %s", m[1])
		}
		if w, ok := want[name]; ok {
			seen[name] = true
			if tag != w {
				t.Errorf("docker-compose.temporal.yml: %s, want %s:%s as cluster.sh builds", m[1], name, w)
			}
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("docker-compose.temporal.yml has no %s image", name)
		}
	}

	readme := read("README.md")
	for _, v := range []string{"Temporal server " + server, "UI " + ui} {
		if !strings.Contains(readme, v) {
			t.Errorf("README does not say %q", v)
		}
	}
}
