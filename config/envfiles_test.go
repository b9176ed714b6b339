package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestEnvFiles(t *testing.T) {
	names := []string{"compose.yaml", ".env", "conf/app.env", "conf/db.env", "conf/.env", "web.env", "notes.txt", "x/.env.example"}
	for _, c := range []struct {
		name, compose string
		want          []string
	}{
		{"dot-env files only", "services: {web: {image: x}}", []string{".env", "conf/.env"}},
		{"env_file string", "services: {web: {image: x, env_file: web.env}}", []string{".env", "conf/.env", "web.env"}},
		{"env_file list", "services:\n  web:\n    env_file: [./conf/app.env, conf/../web.env]\n", []string{".env", "conf/.env", "conf/app.env", "web.env"}},
		{"env_file long form", "services:\n  web:\n    env_file:\n      - path: conf/db.env\n        required: false\n  worker:\n    env_file: [{path: conf/app.env}]\n",
			[]string{".env", "conf/.env", "conf/app.env", "conf/db.env"}},
		{"outside the folder, missing, interpolated", "services:\n  web:\n    env_file: [/etc/app.env, ../x.env, missing.env, '${DIR}/app.env']\n", []string{".env", "conf/.env"}},
		{"listed twice", "services: {a: {env_file: .env}, b: {env_file: [.env]}}", []string{".env", "conf/.env"}},
		{"not YAML", "services: [", []string{".env", "conf/.env"}},
	} {
		if got := EnvFiles(names, []byte(c.compose)); !slices.Equal(got, c.want) {
			t.Errorf("%s: EnvFiles = %q, want %q", c.name, got, c.want)
		}
	}
	if got := EnvFiles([]string{"compose.yaml", "app.env"}, []byte("services: {web: {image: x}}")); len(got) != 0 {
		t.Errorf("a folder without env files: %q", got)
	}
}

// The check reads the bundle as it would travel.
func TestBundleEnvFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"compose.yaml":     "services:\n  web:\n    image: x\n    env_file: secrets/db.env\n",
		"secrets/db.env":   "DB_URL=postgres://u:p@db/x\n",
		"static/index.htm": "hi",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := Bundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := BundleEnvFiles(b, "compose.yaml")
	if err != nil || !slices.Equal(got, []string{"secrets/db.env"}) {
		t.Fatalf("BundleEnvFiles = %q, %v; want [secrets/db.env]", got, err)
	}
	if _, err := BundleEnvFiles([]byte("not gzip"), "compose.yaml"); err == nil {
		t.Fatal("a bundle that is not gzip: no error")
	}
}
