package kernel

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/nsrun"
	"golang.org/x/sys/unix"
)

// StateDir holds one directory per lab: its state record and its lock.
// A variable so that tests could point it elsewhere; /run is a tmpfs, so
// records vanish with the namespaces at reboot.
var StateDir = "/run/netcompose"

// record is what a lab owns beyond what the kernel marks itself: the
// namespaces netcompose created (or adopted) and the original values of
// the sysctls it changed, per node.
//
// A namespace name is not enough to own it: lab "l" node "b-x" and lab
// "l-b" node "x" are both "l-b-x", and once one lab's namespace is deleted
// by hand the other may create its own under that name. So the record
// keeps each namespace's inode (nsfs), and a recorded node owns the
// namespace of its name only while the inode is the recorded one.
type record struct {
	Lab     string                       `json:"lab"`
	Nodes   []string                     `json:"nodes"`
	Inodes  map[string]uint64            `json:"inodes,omitempty"`  // node -> namespace inode
	Sysctls map[string]map[string]string `json:"sysctls,omitempty"` // node -> key -> original value
	// RuleNodes are the nodes netcompose has put policy rules in: only
	// their rules are dumped, so labs without rules pay nothing for them.
	RuleNodes []string `json:"rule_nodes,omitempty"`
}

func labDir(lab string) string     { return filepath.Join(StateDir, lab) }
func recordPath(lab string) string { return filepath.Join(labDir(lab), "state.json") }

// loadRecord reads the lab's state record; a missing record is empty.
func loadRecord(lab string) (*record, error) {
	b, err := os.ReadFile(recordPath(lab))
	if errors.Is(err, fs.ErrNotExist) {
		return &record{Lab: lab}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state %s: read: %w", lab, err)
	}
	rec := &record{}
	if err := json.Unmarshal(b, rec); err != nil {
		return nil, fmt.Errorf("state %s: %s: %w", lab, recordPath(lab), err)
	}
	rec.Lab = lab
	return rec, nil
}

// save writes the record atomically: a reader sees the old or the new one.
func (r *record) save() error {
	sort.Strings(r.Nodes)
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(labDir(r.Lab), 0o755); err != nil {
		return fmt.Errorf("state %s: %w", r.Lab, err)
	}
	tmp := recordPath(r.Lab) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("state %s: write: %w", r.Lab, err)
	}
	if err := os.Rename(tmp, recordPath(r.Lab)); err != nil {
		return fmt.Errorf("state %s: write: %w", r.Lab, err)
	}
	return nil
}

// remove deletes the lab's directory: record and lock file.
func (r *record) remove() error {
	if err := os.RemoveAll(labDir(r.Lab)); err != nil {
		return fmt.Errorf("state %s: remove: %w", r.Lab, err)
	}
	return nil
}

func (r *record) clone() *record {
	c := &record{Lab: r.Lab, Nodes: slices.Clone(r.Nodes), Inodes: maps.Clone(r.Inodes), Sysctls: map[string]map[string]string{},
		RuleNodes: slices.Clone(r.RuleNodes)}
	for n, m := range r.Sysctls {
		c.Sysctls[n] = map[string]string{}
		for k, v := range m {
			c.Sysctls[n][k] = v
		}
	}
	return c
}

func (r *record) has(node string) bool { return slices.Contains(r.Nodes, node) }

func (r *record) addNode(node string) {
	if !r.has(node) {
		r.Nodes = append(r.Nodes, node)
	}
}

func (r *record) removeNode(node string) {
	r.Nodes = slices.DeleteFunc(r.Nodes, func(n string) bool { return n == node })
	delete(r.Inodes, node)
	delete(r.Sysctls, node)
	r.RuleNodes = slices.DeleteFunc(r.RuleNodes, func(n string) bool { return n == node })
}

// pin records the inode of the node's namespace as it is now.
func (r *record) pin(node string) {
	if ino, ok := namespaceInode(r.Lab, node); ok {
		if r.Inodes == nil {
			r.Inodes = map[string]uint64{}
		}
		r.Inodes[node] = ino
	}
}

// owns reports whether the node's namespace exists and is the one the
// record names: the recorded inode, or any when none is recorded yet (a
// record written just before the namespace was created).
func (r *record) owns(node string) bool {
	if !r.has(node) {
		return false
	}
	ino, ok := namespaceInode(r.Lab, node)
	if !ok {
		return false
	}
	want, pinned := r.Inodes[node]
	return !pinned || want == ino
}

// prune forgets the nodes whose namespace is gone (deleted by hand, or by
// a reboot) or is not the one the lab made: nothing of the lab is left
// there, and a later create records the node afresh.
// It reports whether it forgot any.
func (r *record) prune() bool {
	n := len(r.Nodes)
	for _, node := range slices.Clone(r.Nodes) {
		if !r.owns(node) {
			r.removeNode(node)
		}
	}
	return len(r.Nodes) != n
}

// original returns the recorded original value of a sysctl.
func (r *record) original(node, key string) (string, bool) {
	v, ok := r.Sysctls[node][key]
	return v, ok
}

func (r *record) setOriginal(node, key, value string) {
	if r.Sysctls == nil {
		r.Sysctls = map[string]map[string]string{}
	}
	if r.Sysctls[node] == nil {
		r.Sysctls[node] = map[string]string{}
	}
	if _, ok := r.Sysctls[node][key]; !ok {
		r.Sysctls[node][key] = value
	}
}

func (r *record) forgetSysctl(node, key string) {
	delete(r.Sysctls[node], key)
	if len(r.Sysctls[node]) == 0 {
		delete(r.Sysctls, node)
	}
}

// namespaceName is the kernel name of a node's namespace for a state
// key: the host part of "<lab>@<host>" (compose.StateKey) keeps records
// and locks apart, never namespace names.
func namespaceName(key, node string) string {
	lab, _ := compose.SplitStateKey(key)
	return compose.NamespaceName(lab, node)
}

func namespaceExists(key, node string) bool {
	_, err := os.Stat(nsrun.Path(namespaceName(key, node)))
	return err == nil
}

// namespaceInode is the inode of the node's namespace (its nsfs inode,
// seen through the bind mount under /run/netns).
func namespaceInode(key, node string) (uint64, bool) {
	var st unix.Stat_t
	if err := unix.Stat(nsrun.Path(namespaceName(key, node)), &st); err != nil {
		return 0, false
	}
	return st.Ino, true
}

// LabInfo describes a lab that has a state record on this machine.
type LabInfo struct {
	Name  string   `json:"name"`
	Nodes []string `json:"nodes"`
	// Missing lists recorded nodes whose namespace no longer exists.
	Missing []string `json:"missing,omitempty"`
}

// Labs lists the labs with a state record on this machine, by name.
func Labs() ([]LabInfo, error) {
	ents, err := os.ReadDir(StateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("labs: %w", err)
	}
	var out []LabInfo
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(recordPath(e.Name())); err != nil {
			continue
		}
		rec, err := loadRecord(e.Name())
		if err != nil {
			return nil, err
		}
		li := LabInfo{Name: e.Name(), Nodes: slices.Sorted(slices.Values(rec.Nodes))}
		for _, n := range li.Nodes {
			if !rec.owns(n) {
				li.Missing = append(li.Missing, n)
			}
		}
		out = append(out, li)
	}
	return out, nil
}
