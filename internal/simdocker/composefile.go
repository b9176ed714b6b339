package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// composeNames are the files compose looks for in its working folder, in
// its order of preference.
var composeNames = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// service is what the simulation needs of one compose service.
type service struct {
	Name          string
	Image         string
	ContainerName string
	Replicas      int
	Healthcheck   bool   // has a healthcheck that is not disabled
	Hash          string // of its interpolated config and env files
}

// project is a loaded compose file.
type project struct {
	Dir      string
	File     string
	Services []service // by name; services of inactive profiles left out
}

func (p *project) service(name string) (service, bool) {
	for _, sv := range p.Services {
		if sv.Name == name {
			return sv, true
		}
	}
	return service{}, false
}

// findComposeFile is the file compose would load in dir ("" when none).
func findComposeFile(dir string) string {
	for _, n := range composeNames {
		if fi, err := os.Stat(filepath.Join(dir, n)); err == nil && !fi.IsDir() {
			return filepath.Join(dir, n)
		}
	}
	return ""
}

// loadProject reads file as compose would for what the simulation needs:
// variables interpolated from the process environment, then dir/.env;
// every env_file read (a missing one fails, as in compose) and hashed in.
func loadProject(dir, file string, getenv func(string) string) (*project, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, failf("open %s: %v", file, err)
	}
	dotenv, err := readEnvFile(filepath.Join(dir, ".env"), false)
	if err != nil {
		return nil, err
	}
	lookup := func(k string) (string, bool) {
		if v := getenv(k); v != "" {
			return v, true
		}
		v, ok := dotenv[k]
		return v, ok
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, failf("yaml: %s: %v", file, err)
	}
	if err := interpolateNode(&doc, lookup); err != nil {
		return nil, failf("%s: %v", file, err)
	}
	var top struct {
		Services map[string]yaml.Node `yaml:"services"`
	}
	if err := doc.Decode(&top); err != nil {
		return nil, failf("%s: %v", file, err)
	}
	if len(top.Services) == 0 {
		return nil, failf("%s: no service defined (the simulation needs services:)", file)
	}
	profiles := strings.Split(getenv("COMPOSE_PROFILES"), ",")
	p := &project{Dir: dir, File: file}
	for name, node := range top.Services {
		sv, active, err := readService(dir, name, &node, profiles)
		if err != nil {
			return nil, err
		}
		if active {
			p.Services = append(p.Services, sv)
		}
	}
	sort.Slice(p.Services, func(i, j int) bool { return p.Services[i].Name < p.Services[j].Name })
	return p, nil
}

func readService(dir, name string, node *yaml.Node, activeProfiles []string) (service, bool, error) {
	var def struct {
		Image         string    `yaml:"image"`
		Build         yaml.Node `yaml:"build"`
		ContainerName string    `yaml:"container_name"`
		Scale         *int      `yaml:"scale"`
		Deploy        struct {
			Replicas *int `yaml:"replicas"`
		} `yaml:"deploy"`
		Healthcheck *struct {
			Disable bool      `yaml:"disable"`
			Test    yaml.Node `yaml:"test"`
		} `yaml:"healthcheck"`
		Profiles []string  `yaml:"profiles"`
		EnvFile  yaml.Node `yaml:"env_file"`
	}
	if err := node.Decode(&def); err != nil {
		return service{}, false, failf("service %q: %v", name, err)
	}
	if len(def.Profiles) > 0 && !overlaps(def.Profiles, activeProfiles) {
		return service{}, false, nil
	}
	if def.Image == "" {
		if !def.Build.IsZero() {
			return service{}, false, unsupported("service %q has build: and no image: the simulation builds nothing", name)
		}
		return service{}, false, failf("service %q has neither an image nor a build context specified", name)
	}
	sv := service{Name: name, Image: def.Image, ContainerName: def.ContainerName, Replicas: 1}
	switch {
	case def.Scale != nil:
		sv.Replicas = *def.Scale
	case def.Deploy.Replicas != nil:
		sv.Replicas = *def.Deploy.Replicas
	}
	if hc := def.Healthcheck; hc != nil && !hc.Disable {
		var test []string
		if hc.Test.Kind == yaml.ScalarNode {
			test = []string{hc.Test.Value}
		} else {
			_ = hc.Test.Decode(&test)
		}
		sv.Healthcheck = len(test) == 0 || test[0] != "NONE"
	}
	h := sha256.New()
	canon, _ := yaml.Marshal(node)
	h.Write(canon)
	files, err := envFiles(&def.EnvFile)
	if err != nil {
		return service{}, false, failf("service %q: env_file: %v", name, err)
	}
	for _, f := range files {
		p := f.path
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) && !f.required {
			continue
		}
		if err != nil {
			return service{}, false, failf("env file %s not found: %v", p, err)
		}
		h.Write(b)
	}
	sv.Hash = hex.EncodeToString(h.Sum(nil))
	return sv, true, nil
}

type envFileRef struct {
	path     string
	required bool
}

// envFiles reads env_file in its three forms: a path, a list of paths, a
// list of {path, required}.
func envFiles(n *yaml.Node) ([]envFileRef, error) {
	switch n.Kind {
	case 0:
		return nil, nil
	case yaml.ScalarNode:
		return []envFileRef{{n.Value, true}}, nil
	case yaml.SequenceNode:
		var refs []envFileRef
		for _, item := range n.Content {
			if item.Kind == yaml.ScalarNode {
				refs = append(refs, envFileRef{item.Value, true})
				continue
			}
			var long struct {
				Path     string `yaml:"path"`
				Required *bool  `yaml:"required"`
			}
			if err := item.Decode(&long); err != nil {
				return nil, err
			}
			refs = append(refs, envFileRef{long.Path, long.Required == nil || *long.Required})
		}
		return refs, nil
	}
	return nil, fmt.Errorf("want a path or a list")
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == strings.TrimSpace(y) && x != "" {
				return true
			}
		}
	}
	return false
}

// readEnvFile reads KEY=VALUE lines as compose reads .env (comments,
// export prefix, quotes). A missing file is empty unless required.
func readEnvFile(path string, required bool) (map[string]string, error) {
	vals := map[string]string{}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) && !required {
		return vals, nil
	}
	if err != nil {
		return nil, failf("env file %s: %v", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "))
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vals[strings.TrimSpace(k)] = v
	}
	return vals, sc.Err()
}

// interpolateNode substitutes variables in every scalar value (never in
// keys), as compose does after parsing.
func interpolateNode(n *yaml.Node, lookup func(string) (string, bool)) error {
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := interpolate(n.Value, lookup)
		if err != nil {
			return err
		}
		n.Value = v
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			if err := interpolateNode(n.Content[i], lookup); err != nil {
				return err
			}
		}
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			if err := interpolateNode(c, lookup); err != nil {
				return err
			}
		}
	}
	return nil
}

// interpolate expands $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
// ${VAR:?err}, ${VAR?err} and $$. Nested expressions are not supported.
func interpolate(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch n := s[i+1]; {
		case n == '$':
			b.WriteByte('$')
			i++
		case n == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("invalid interpolation format for %q: unclosed ${", s)
			}
			v, err := expand(s[i+2:i+2+end], lookup)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i += 2 + end
		case n == '_' || n >= 'A' && n <= 'Z' || n >= 'a' && n <= 'z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			v, _ := lookup(s[i+1 : j])
			b.WriteString(v)
			i = j - 1
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), nil
}

func expand(expr string, lookup func(string) (string, bool)) (string, error) {
	for _, op := range []string{":-", ":?", "-", "?"} {
		name, arg, ok := strings.Cut(expr, op)
		if !ok {
			continue
		}
		v, set := lookup(name)
		empty := !set || (op[0] == ':' && v == "")
		switch {
		case !empty:
			return v, nil
		case strings.HasSuffix(op, "-"):
			return arg, nil
		default:
			return "", fmt.Errorf("required variable %s is missing a value: %s", name, arg)
		}
	}
	v, _ := lookup(expr)
	return v, nil
}
