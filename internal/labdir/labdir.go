// Package labdir is the one place that knows the layout of a lab's
// directory, /run/netcompose/<lab>[@<host>]/:
//
//	state.json       the state record (package kernel)
//	state.json.tmp   a record being written
//	journal          what a run is creating, before the record knows it
//	lock             the apply/destroy lock (package kernel)
//	supervisor.sock  the supervisor's control socket
//	supervisor.log   the supervisor's own log (and .1, the previous one)
//	logs/NAME.log    each component's log (and .1)
//
// Every name that becomes a path passes compose's name rule first, and
// Remove deletes these files by name, never a tree: a directory holding
// anything else is left in place.
package labdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/netcompose/netcompose/compose"
)

// Root holds one directory per lab. /run is a tmpfs: records vanish with
// the namespaces at reboot. A variable so tests can point it elsewhere.
var Root = "/run/netcompose"

// Dir is one lab's directory.
type Dir struct {
	Key  string // "<lab>" or "<lab>@<host>"
	Path string
}

// ErrBadName is returned for a lab or host name that fails the name rule.
var ErrBadName = errors.New("not a lab name")

// For returns the directory of a state key after checking its name, so a
// value like "../x" or "." never becomes a path.
func For(key string) (Dir, error) {
	if err := compose.CheckStateKey(key); err != nil {
		return Dir{}, fmt.Errorf("lab %q: %w: %v", key, ErrBadName, err)
	}
	p := filepath.Join(Root, key)
	if filepath.Dir(p) != filepath.Clean(Root) {
		return Dir{}, fmt.Errorf("lab %q: %w", key, ErrBadName)
	}
	return Dir{Key: key, Path: p}, nil
}

// MustFor is For for keys that already passed the name rule (a loaded
// lab's name); it panics on a bad one, which would be a bug.
func MustFor(key string) Dir {
	d, err := For(key)
	if err != nil {
		panic(err)
	}
	return d
}

func (d Dir) State() string         { return filepath.Join(d.Path, "state.json") }
func (d Dir) Lock() string          { return filepath.Join(d.Path, "lock") }
func (d Dir) Journal() string       { return filepath.Join(d.Path, "journal") }
func (d Dir) Socket() string        { return filepath.Join(d.Path, "supervisor.sock") }
func (d Dir) SupervisorLog() string { return filepath.Join(d.Path, "supervisor.log") }
func (d Dir) LogDir() string        { return filepath.Join(d.Path, "logs") }

// Log is the log file of one component (a "kind.name" such as
// "service.web"); component names pass the name rule too.
func (d Dir) Log(component string) (string, error) {
	for _, part := range strings.SplitN(component, ".", 2) {
		if err := compose.CheckName(part); err != nil {
			return "", fmt.Errorf("component %q: %w", component, err)
		}
	}
	return filepath.Join(d.LogDir(), component+".log"), nil
}

// Make creates the directory (0755: status may be read by anyone; the
// socket itself is 0600).
func (d Dir) Make() error {
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return fmt.Errorf("lab %s: %w", d.Key, err)
	}
	return nil
}

// Remove deletes the files of the layout by name, then the directories
// if they are empty. Anything else found there stays, and so does the
// directory holding it.
func (d Dir) Remove() error {
	var errs []error
	rm := func(p string) {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if ents, err := os.ReadDir(d.LogDir()); err == nil {
		for _, e := range ents {
			if n := e.Name(); e.Type().IsRegular() && (strings.HasSuffix(n, ".log") || strings.HasSuffix(n, ".log.1")) {
				rm(filepath.Join(d.LogDir(), n))
			}
		}
	}
	rmdir(d.LogDir())
	for _, p := range []string{d.State(), d.State() + ".tmp", d.Journal(), d.Socket(), d.SupervisorLog(), d.SupervisorLog() + ".1", d.Lock()} {
		rm(p)
	}
	rmdir(d.Path)
	return errors.Join(errs...)
}

// rmdir removes an empty directory and nothing else.
func rmdir(p string) { _ = os.Remove(p) }
