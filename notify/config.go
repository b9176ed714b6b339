package notify

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The notifier types.
const (
	typeSlack    = "slack"
	typeDingTalk = "dingtalk"
	typeWebhook  = "webhook"
)

var types = []string{typeSlack, typeDingTalk, typeWebhook}

// secretKeys are the two keys a type's secret may come from; slack has
// none, its URL is its secret.
var secretKeys = map[string][2]string{
	typeDingTalk: {"secret_file", "secret_env"},
	typeWebhook:  {"hmac_secret_file", "hmac_secret_env"},
}

var (
	signingKeys = []string{"secret_file", "secret_env", "hmac_secret_file", "hmac_secret_env"}
	entryKeys   = append([]string{"type", "url", "url_file", "url_env"}, signingKeys...)
)

var (
	nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	envRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

	yamlLineRe = regexp.MustCompile(`^line (\d+): (.*)$`)
)

const (
	maxConfigBytes = 1 << 20
	maxValueBytes  = 64 << 10 // a URL or secret file
)

// notifier is one destination, loaded. urlFrom and secretFrom say where the
// values came from, for messages; they never hold the values.
type notifier struct {
	name       string
	typ        string
	url        Secret
	secret     Secret // zero when unsigned
	urlFrom    string
	secretFrom string
}

func (n *notifier) describe() string {
	s := fmt.Sprintf("%s (%s, URL from %s", n.name, n.typ, n.urlFrom)
	if !n.secret.IsZero() {
		s += ", signed with the secret from " + n.secretFrom
	}
	return s + ")"
}

// Set is the worker's notifiers, by name. It is read-only once loaded and
// safe to share. A nil Set holds none.
type Set struct {
	file      string
	notifiers map[string]*notifier
}

// Load reads the notify config at path. Relative url/secret files are
// relative to its folder; getenv (os.Getenv in the worker) answers the
// *_env keys.
func Load(path string, getenv func(string) string) (*Set, error) {
	data, err := readCapped(path, maxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("notify config %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("notify config %s: %w", path, err)
	}
	return Parse(data, path, filepath.Dir(abs), getenv)
}

// Parse decodes a notify config strictly and reads every URL and secret it
// points to. All problems are reported together, each as FILE:LINE: msg.
// file names the config in messages, baseDir is what relative files are
// relative to.
func Parse(data []byte, file, baseDir string, getenv func(string) string) (set *Set, err error) {
	defer func() { // the yaml package has panicked on hostile input before
		if r := recover(); r != nil {
			set, err = nil, fmt.Errorf("%s: invalid YAML: %v", file, r)
		}
	}()
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
			return nil, fmt.Errorf("%s:%s: invalid YAML: %s", file, m[1], m[2])
		}
		return nil, fmt.Errorf("%s: invalid YAML: %s", file, msg)
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, fmt.Errorf("%s: is empty; it must hold notifiers: {NAME: {type: ..., url_file: ...}}", file)
	}
	d := &decoder{file: file, baseDir: baseDir, getenv: getenv}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		d.bad(root, "must be a mapping with one key, notifiers")
		return nil, d.err()
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case k.Value != "notifiers":
			d.bad(k, "unknown key %q (the file holds one key, notifiers)", k.Value)
		case list != nil:
			d.bad(k, "notifiers is set twice")
		default:
			list = v
		}
	}
	s := &Set{file: file, notifiers: map[string]*notifier{}}
	switch {
	case list == nil:
		if len(d.errs) == 0 {
			d.bad(root, "notifiers is missing")
		}
	case isNull(list) || list.Kind == yaml.MappingNode && len(list.Content) == 0:
		d.bad(list, "notifiers is empty; name at least one, or start the worker without --notify-config")
	case list.Kind != yaml.MappingNode:
		d.bad(list, "notifiers must be a mapping of name to {type, url...}")
	}
	if list == nil || list.Kind != yaml.MappingNode {
		return nil, d.err()
	}
	lines := map[string]int{}
	for i := 0; i+1 < len(list.Content); i += 2 {
		k, v := list.Content[i], list.Content[i+1]
		name := k.Value
		switch {
		case k.Kind != yaml.ScalarNode || !nameRe.MatchString(name):
			d.bad(k, "notifier name %q must be lower-case letters, digits, - and _, starting with a letter or digit", name)
			continue
		case lines[name] != 0:
			d.bad(k, "notifier %s is defined twice (first on line %d)", name, lines[name])
			continue
		}
		lines[name] = k.Line
		if n := d.entry(name, v); n != nil {
			s.notifiers[name] = n
		}
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return s, nil
}

type decoder struct {
	file    string
	baseDir string
	getenv  func(string) string
	errs    []error
}

func (d *decoder) bad(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, fmt.Errorf("%s:%d: %s", d.file, n.Line, fmt.Sprintf(format, args...)))
}

func (d *decoder) err() error { return errors.Join(d.errs...) }

// entry decodes one notifier, or reports why it cannot and returns nil.
func (d *decoder) entry(name string, n *yaml.Node) *notifier {
	before := len(d.errs)
	bad := func(at *yaml.Node, format string, args ...any) {
		d.bad(at, "notifier %s: %s", name, fmt.Sprintf(format, args...))
	}
	switch n.Kind {
	case yaml.MappingNode:
	case yaml.AliasNode:
		bad(n, "YAML aliases (*name) are not supported; write the settings out")
		return nil
	default:
		bad(n, "must be a mapping: {type: slack|dingtalk|webhook, url_file: FILE}")
		return nil
	}
	keys := map[string]*yaml.Node{} // key → its key node
	vals := map[string]string{}     // key → its value; "" when reported as bad
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !slices.Contains(entryKeys, k.Value):
			bad(k, "unknown key %q (want type, one of url/url_file/url_env, and for dingtalk secret_file/secret_env or for webhook hmac_secret_file/hmac_secret_env)", k.Value)
			continue
		case keys[k.Value] != nil:
			bad(k, "%s is set twice", k.Value)
			continue
		case v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" || v.Value == "":
			bad(v, "%s must be a non-empty string", k.Value)
			keys[k.Value] = k // given, so not reported as missing too
			continue
		}
		keys[k.Value], vals[k.Value] = k, v.Value
	}
	typ := vals["type"]
	switch {
	case keys["type"] == nil:
		bad(n, "type is required (slack, dingtalk or webhook)")
		return nil
	case typ == "":
		return nil
	case !slices.Contains(types, typ):
		bad(keys["type"], "type %q is not one of slack, dingtalk, webhook", typ)
		return nil
	}
	for _, key := range signingKeys {
		owner := typeDingTalk
		if strings.HasPrefix(key, "hmac_") {
			owner = typeWebhook
		}
		if keys[key] == nil || owner == typ {
			continue
		}
		if typ == typeSlack {
			bad(keys[key], "a slack notifier takes no %s: its URL is its secret", key)
		} else {
			bad(keys[key], "%s is for %s notifiers; a %s one takes %s or %s", key, owner, typ, secretKeys[typ][0], secretKeys[typ][1])
		}
	}
	out := &notifier{name: name, typ: typ}
	if u, from, at := d.value(bad, n, keys, vals, "url", "url_file", "url_env", true); at != nil {
		if msg := checkURL(u.Reveal()); msg != "" {
			bad(at, "the URL from %s %s", from, msg)
		}
		out.url, out.urlFrom = u, from
	}
	if sk, ok := secretKeys[typ]; ok {
		out.secret, out.secretFrom, _ = d.value(bad, n, keys, vals, "", sk[0], sk[1], false)
	}
	if len(d.errs) > before {
		return nil
	}
	return out
}

// value reads the setting given by one of inlineKey (the value itself;
// "" when not allowed), fileKey and envKey. It returns the value, where it
// came from (for messages) and the key it was given by, or a nil key when
// it is missing or unreadable (reported when it was required or broken).
func (d *decoder) value(bad func(*yaml.Node, string, ...any), n *yaml.Node, keys map[string]*yaml.Node, vals map[string]string, inlineKey, fileKey, envKey string, required bool) (Secret, string, *yaml.Node) {
	var given []string
	for _, k := range []string{inlineKey, fileKey, envKey} {
		if k != "" && keys[k] != nil {
			given = append(given, k)
		}
	}
	what := strings.TrimSuffix(fileKey, "_file")
	switch {
	case len(given) == 0:
		if required {
			bad(n, "needs one of %s", strings.Join(slices.DeleteFunc([]string{inlineKey, fileKey, envKey}, func(s string) bool { return s == "" }), ", "))
		}
		return Secret{}, "", nil
	case len(given) > 1:
		bad(keys[given[1]], "takes one of %s, not both", strings.Join(given, " and "))
		return Secret{}, "", nil
	}
	key := given[0]
	v := vals[key]
	if v == "" { // already reported
		return Secret{}, "", nil
	}
	switch key {
	case inlineKey:
		return NewSecret(v), "the config file (url)", keys[key]
	case envKey:
		if !envRe.MatchString(v) {
			bad(keys[key], "%s %q is not an environment variable name", key, v)
			return Secret{}, "", nil
		}
		got := strings.TrimRight(d.getenv(v), "\r\n")
		if got == "" {
			bad(keys[key], "%s: the worker's environment variable %s is not set or empty (set it where `hoist worker` runs)", key, v)
			return Secret{}, "", nil
		}
		return NewSecret(got), key + " " + v, keys[key]
	default:
		path := v
		if !filepath.IsAbs(path) {
			path = filepath.Join(d.baseDir, path)
		}
		path = filepath.Clean(path)
		data, err := readCapped(path, maxValueBytes)
		if err != nil {
			bad(keys[key], "%s %s: %v", key, path, err)
			return Secret{}, "", nil
		}
		got := strings.TrimRight(string(data), "\r\n")
		if got == "" {
			bad(keys[key], "%s %s is empty; it must hold the %s", key, path, what)
			return Secret{}, "", nil
		}
		return NewSecret(got), key + " " + path, keys[key]
	}
}

// checkURL says what is wrong with a notifier URL, never quoting it: it
// may carry a token, and url.Parse's errors quote it whole.
func checkURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || strings.ContainsAny(raw, " \t\r\n"):
		return "is not a valid URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "must start with https:// or http://"
	case u.Host == "" || u.Hostname() == "":
		return "has no host"
	}
	return ""
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err // the caller names the path
		}
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err
		}
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("is larger than the %d-byte limit", limit)
	}
	return data, nil
}

// File is the config file the set was loaded from, or "".
func (s *Set) File() string {
	if s == nil {
		return ""
	}
	return s.file
}

// Names lists the notifiers, sorted.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	names := make([]string, 0, len(s.notifiers))
	for name := range s.notifiers {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Has says whether the set has a notifier called name.
func (s *Set) Has(name string) bool { return s.lookup(name) != nil }

func (s *Set) lookup(name string) *notifier {
	if s == nil {
		return nil
	}
	return s.notifiers[name]
}

// CheckNames refuses every name the set does not have, so that a deploy
// spec naming a notifier this worker lacks fails before it starts.
func (s *Set) CheckNames(names []string) error {
	var errs []error
	for _, name := range names {
		if !s.Has(name) {
			errs = append(errs, errors.New(s.unknown(name)))
		}
	}
	return errors.Join(errs...)
}

func (s *Set) unknown(name string) string {
	has := "it has none"
	if names := s.Names(); len(names) > 0 {
		has = "it has: " + strings.Join(names, ", ")
	}
	where := "start the worker with --notify-config FILE defining it"
	if s.File() != "" {
		where = "add it to " + s.File() + " (--notify-config)"
	}
	return fmt.Sprintf("notify: no notifier %q on this worker (%s); %s", name, has, where)
}

// String lists the notifiers and where their URLs and secrets come from,
// for the worker's start-up log; never the values.
func (s *Set) String() string {
	if s == nil {
		return "no notifiers"
	}
	parts := make([]string, 0, len(s.notifiers))
	for _, name := range s.Names() {
		parts = append(parts, s.notifiers[name].describe())
	}
	return fmt.Sprintf("notifiers from %s: %s", s.file, strings.Join(parts, ", "))
}
