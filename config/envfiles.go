package config

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EnvFiles lists the files of a release that hold environment values,
// by their path in the files folder: a `.env` anywhere (compose reads the
// one beside the compose file; by convention they all hold secrets), and
// every env_file the compose file names that lies in the folder. names
// are the folder's files (slash-separated, relative); compose is the
// compose file's content. An env_file outside the folder (an absolute
// path on the host, ../) is not shipped, so it is not listed; nor is one
// whose path uses ${VARIABLES}, which only the host resolves. A compose
// file that is not valid YAML lists no env_file: compose itself refuses it.
func EnvFiles(names []string, compose []byte) []string {
	var found []string
	for _, n := range names {
		if path.Base(n) == ".env" {
			found = append(found, n)
		}
	}
	for _, f := range composeEnvFiles(compose) {
		if slices.Contains(names, f) && !slices.Contains(found, f) {
			found = append(found, f)
		}
	}
	slices.Sort(found)
	return found
}

// composeEnvFiles are the env_file paths of every service, cleaned and
// relative to the compose file's folder, in any of compose's forms:
// a string, a list of strings, a list of {path: ..., required: ...}.
func composeEnvFiles(compose []byte) []string {
	var doc struct {
		Services map[string]struct {
			EnvFile yaml.Node `yaml:"env_file"`
		} `yaml:"services"`
	}
	if yaml.Unmarshal(compose, &doc) != nil {
		return nil
	}
	var out []string
	add := func(p string) {
		if p == "" || strings.Contains(p, "$") || path.IsAbs(p) {
			return
		}
		p = path.Clean(p)
		if p == ".." || strings.HasPrefix(p, "../") {
			return
		}
		out = append(out, p)
	}
	for _, svc := range doc.Services {
		n := svc.EnvFile
		switch n.Kind {
		case yaml.ScalarNode:
			add(n.Value)
		case yaml.SequenceNode:
			for _, item := range n.Content {
				switch item.Kind {
				case yaml.ScalarNode:
					add(item.Value)
				case yaml.MappingNode:
					for i := 0; i+1 < len(item.Content); i += 2 {
						if item.Content[i].Value == "path" && item.Content[i+1].Kind == yaml.ScalarNode {
							add(item.Content[i+1].Value)
						}
					}
				}
			}
		}
	}
	return out
}

// BundleEnvFiles is EnvFiles of a bundle made by Bundle, whose compose
// file is composeFile: what the workflow would carry, checked as it
// would travel.
func BundleEnvFiles(bundle []byte, composeFile string) ([]string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(bundle))
	if err != nil {
		return nil, fmt.Errorf("reading the bundle: %w", err)
	}
	tr := tar.NewReader(zr)
	var names []string
	var compose []byte
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the bundle: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := strings.TrimPrefix(path.Clean(hdr.Name), "./")
		names = append(names, name)
		if name == composeFile {
			if compose, err = io.ReadAll(io.LimitReader(tr, MaxUnpackedBytes)); err != nil {
				return nil, fmt.Errorf("reading the bundle: %w", err)
			}
		}
	}
	return EnvFiles(names, compose), nil
}
