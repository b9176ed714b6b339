package config

import "fmt"

// DefaultEnvironment is the environment of a hoist.yml without
// `environment:`, and of a spec from a CLI that predates environments.
const DefaultEnvironment = "production"

const maxEnvironment = 63

// EnvironmentName is the spec's environment, DefaultEnvironment when it
// is not set. Two configs of one service in different environments are
// two deploy locks, two sets of search attributes, two lines of output.
func (s *Spec) EnvironmentName() string {
	if s.Environment == "" {
		return DefaultEnvironment
	}
	return s.Environment
}

// checkEnvironment takes the rule of a service name: the environment is
// part of the deploy's workflow ID and of what the Web UI filters on.
// "" is a spec from before environments: Parse always sets one.
func checkEnvironment(v string) string {
	switch {
	case v == "":
		return ""
	case len(v) > maxEnvironment:
		return fmt.Sprintf("must be at most %d characters, got %d", maxEnvironment, len(v))
	case !serviceRe.MatchString(v):
		return fmt.Sprintf("must be lowercase letters, digits, '_' and '-', starting with a letter or digit, got %q", v)
	}
	return ""
}
