package kernel

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/labdir"
)

// The journal is a write-ahead log of what a run is about to create, in
// the lab's directory. The state record is written once, at the end of a
// run; a run killed before that (kill -9, a crash, a reboot of the process)
// leaves objects the record does not name. Each is announced here first,
// with what proves it is ours once it exists:
//
//	ns NODE INODE            a namespace, announced after unshare and
//	                         before its mount: the inode is already known,
//	                         so a namespace found later under that name
//	                         with that inode is the one we made, and an
//	                         empty, unmounted file there is our placeholder
//	link NODE IFNAME KIND NAME
//	                         a link, announced before it is created: the
//	                         kernel ignores an alias on create, so a kill
//	                         between create and mark leaves it unmarked
//	dump KIND NODE           a kind is about to put objects it must dump
//	                         itself to see (policy rules) in NODE
//
// Every line is written with one write(2) before the step it announces, so
// it survives the process. The next run folds the journal into the record
// (recover), and saving the record empties it.

func journalPath(d labdir.Dir) string { return d.Journal() }

// journal appends announcements to the lab's journal file.
type journal struct {
	mu  sync.Mutex
	dir labdir.Dir
	f   *os.File
}

// write appends lines, each of space-separated fields, in one write(2).
func (j *journal) write(lines ...[]string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		if err := j.dir.Make(); err != nil {
			return err
		}
		f, err := os.OpenFile(journalPath(j.dir), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("journal %s: %w", j.dir.Key, err)
		}
		j.f = f
	}
	var b strings.Builder
	for _, fields := range lines {
		b.WriteString(strings.Join(fields, " "))
		b.WriteByte('\n')
	}
	if _, err := j.f.WriteString(b.String()); err != nil {
		return fmt.Errorf("journal %s: %w", j.dir.Key, err)
	}
	return nil
}

func (j *journal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}

func clearJournal(d labdir.Dir) error {
	if err := os.Remove(journalPath(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("journal %s: %w", d.Key, err)
	}
	return nil
}

// pendingLink is a link a killed run announced: if an unmarked link of
// that name is in the (owned) node, it is the lab's.
type pendingLink struct {
	kind compose.Kind
	name string
}

// recover folds the journal of an unfinished run into the record, in
// memory: namespaces whose inode was announced are claimed, pending links
// and dump nodes are remembered. It changes nothing on disk or in the
// kernel (diff uses it too); Apply cleans up with tidy.
func (r *record) recover() error {
	f, err := os.Open(journalPath(r.dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal %s: %w", r.Lab, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		r.replay(strings.Fields(sc.Text()))
	}
	return sc.Err()
}

// replay applies one journal line; a line that does not parse (a torn
// write, a hand edit) is ignored: it can only ever prove ownership of what
// matches it exactly.
func (r *record) replay(f []string) {
	// The node is the second word of ns and link lines, the third of dump
	// lines; it becomes a path, so it passes the name rule first.
	node := func(i int) (string, bool) {
		return f[i], compose.CheckName(f[i]) == nil
	}
	switch {
	case len(f) == 3 && f[0] == "ns":
		n, ok := node(1)
		ino, err := strconv.ParseUint(f[2], 10, 64)
		if !ok || err != nil {
			return
		}
		r.announced = append(r.announced, n)
		if got, ok := namespaceInode(r.Lab, n); ok && got == ino {
			r.claim(n, ino)
		}
	case len(f) == 5 && f[0] == "link":
		n, ok := node(1)
		if !ok {
			return
		}
		if r.pending == nil {
			r.pending = map[compose.End]pendingLink{}
		}
		r.pending[compose.End{Node: n, Ifname: f[2]}] = pendingLink{compose.Kind(f[3]), f[4]}
	case len(f) == 3 && f[0] == "dump":
		if n, ok := node(2); ok {
			r.addDump(compose.Kind(f[1]), n)
		}
	}
}

// tidy removes the placeholders this lab left under /run/netns: the empty,
// unmounted file a namespace is mounted on, left by a run killed between
// creating it and mounting (or between unmounting and removing it). Only
// names the lab proved (recorded with an inode) or announced in its journal
// are looked at; a placeholder of any other name is never touched.
func (r *record) tidy() error {
	var errs []error
	seen := map[string]bool{}
	check := func(node string) {
		if seen[node] {
			return
		}
		seen[node] = true
		p := namespacePath(r.Lab, node)
		if !isPlaceholder(p) {
			return
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("netns %s: remove stale placeholder: %w", filepath.Base(p), err))
			return
		}
		if _, pinned := r.Inodes[node]; pinned {
			r.removeNode(node)
		}
	}
	for _, n := range r.Nodes {
		if _, pinned := r.Inodes[n]; pinned {
			check(n)
		}
	}
	for _, n := range r.announced {
		check(n)
	}
	return errors.Join(errs...)
}
