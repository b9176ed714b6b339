package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// container is one simulated container, as the host's state file keeps it.
type container struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"` // without docker's leading "/"
	Project     string    `json:"project"`
	Service     string    `json:"service"`
	Number      int       `json:"number"`      // com.docker.compose.container-number
	WorkingDir  string    `json:"working_dir"` // the release folder compose ran in
	ConfigFile  string    `json:"config_file"`
	ConfigHash  string    `json:"config_hash"` // the service's config: equal means compose keeps the container
	Image       string    `json:"image"`
	Healthcheck bool      `json:"healthcheck"`
	Created     time.Time `json:"created"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
	Running     bool      `json:"running"`
	ExitCode    int       `json:"exit_code"`
}

// state is everything the host's engine holds.
type state struct {
	Containers []*container `json:"containers"`
}

// containerID is stable for a host, project, release folder, service and
// replica: deploying the same release again on the same host gives the
// same IDs, another host or release other ones.
func containerID(host, project, workingDir, service string, number int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%d", host, project, workingDir, service, number)))
	return hex.EncodeToString(sum[:])
}

// project lists the project's containers, by name.
func (st *state) project(name string) []*container {
	var cs []*container
	for _, c := range st.Containers {
		if c.Project == name {
			cs = append(cs, c)
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	return cs
}

func (st *state) remove(id string) {
	kept := st.Containers[:0]
	for _, c := range st.Containers {
		if c.ID != id {
			kept = append(kept, c)
		}
	}
	st.Containers = kept
}

// find resolves a reference as docker does: a full ID, a unique ID
// prefix, or a name (with or without the leading "/").
func (st *state) find(ref string) (*container, error) {
	name := strings.TrimPrefix(ref, "/")
	var match *container
	for _, c := range st.Containers {
		if c.ID == ref || c.Name == name {
			return c, nil
		}
		if ref != "" && strings.HasPrefix(c.ID, ref) {
			if match != nil {
				return nil, failf("Error response from daemon: multiple IDs found with provided prefix: %s", ref)
			}
			match = c
		}
	}
	if match == nil {
		return nil, failf("Error response from daemon: No such container: %s", ref)
	}
	return match, nil
}

// withState runs fn on the host's state under an exclusive lock (flock on
// stateDir/lock) and, when write is set, saves what fn left (written
// aside, then renamed). Concurrent invocations on one host — a status
// query beside a compose up — see whole states only.
func (s *sim) withState(write bool, fn func(*state) error) error {
	lock, err := os.OpenFile(filepath.Join(s.stateDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("state lock: %w", err)
	}
	defer lock.Close()
	how := syscall.LOCK_SH
	if write {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(lock.Fd()), how); err != nil {
		return fmt.Errorf("state lock %s: %w", lock.Name(), err)
	}
	file := filepath.Join(s.stateDir, "containers.json")
	st := &state{}
	b, err := os.ReadFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("state: %w", err)
	default:
		if err := json.Unmarshal(b, st); err != nil {
			return fmt.Errorf("state %s is not valid JSON (%v); remove it to start the host empty", file, err)
		}
	}
	if err := fn(st); err != nil || !write {
		return err
	}
	out, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o644); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}
