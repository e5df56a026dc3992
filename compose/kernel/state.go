package kernel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sort"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/labdir"
)

// record is what a lab owns beyond what the kernel marks itself: the
// namespaces netcompose created (or adopted), the original values of the
// sysctls it changed, and where kinds with a dump of their own (policy
// rules, iptables rules) have put objects.
//
// A namespace name is not enough to own it: lab "l" node "b-x" and lab
// "l-b" node "x" are both "l-b-x", and once one lab's namespace is deleted
// by hand the other may create its own under that name. So the record
// keeps each namespace's inode (nsfs), and a recorded node owns the
// namespace of its name only while the inode is the recorded one. An entry
// without an inode (a record from an older netcompose, or edited by hand)
// proves nothing: it never authorises a change, let alone a delete.
//
// The record is written at the end of a run; what a run creates before
// that is announced in the lab's journal first (see journal.go), so a run
// killed at any point leaves nothing the next run cannot recognise.
type record struct {
	Lab     string                       `json:"lab"`
	Nodes   []string                     `json:"nodes"`
	Inodes  map[string]uint64            `json:"inodes,omitempty"`  // node -> namespace inode
	Sysctls map[string]map[string]string `json:"sysctls,omitempty"` // node -> key -> original value
	// Dumps lists, per kind, the nodes where that kind has put objects it
	// must dump itself to see (policy rules, static neighbours, …): the
	// kind looks only there, so labs without such objects pay nothing for
	// them.
	Dumps map[compose.Kind][]string `json:"dumps,omitempty"`
	// RuleNodes is read from records written before Dumps existed.
	RuleNodes []string `json:"rule_nodes,omitempty"`
	// Format is recordFormat when the record was written; older records
	// are brought up to it as they are read (loadRecord).
	Format int `json:"format,omitempty"`
	// Supervisor is the lab's supervisor process, when it runs one: its
	// PID and start time (so a recycled PID is never taken for it).
	Supervisor *Process `json:"supervisor,omitempty"`

	dir   labdir.Dir
	nodes map[string]bool // index of Nodes
	// From the journal of a run that did not finish (recover):
	announced []string                    // namespaces it was creating
	pending   map[compose.End]pendingLink // links it was creating
}

// recordFormat is the record's format: 1 since static neighbours are
// among the kinds with a dump of their own (Dumps).
const recordFormat = 1

// loadRecord reads the lab's state record; a missing record is empty. The
// journal of a run that did not finish is folded in (recover).
func loadRecord(lab string) (*record, error) {
	rec := &record{}
	dir, err := readState(lab, rec)
	if err != nil {
		return nil, err
	}
	rec.Lab, rec.dir = lab, dir
	rec.index()
	if len(rec.RuleNodes) > 0 { // an older record
		rec.addDump(compose.KindRule, rec.RuleNodes...)
		rec.RuleNodes = nil
	}
	if rec.Format < 1 && len(rec.Nodes) > 0 {
		// Written when static neighbours were dumped in every node: they
		// may be anywhere.
		rec.addDump(compose.KindNeigh, rec.Nodes...)
	}
	rec.Format = recordFormat
	if err := rec.recover(); err != nil {
		return nil, err
	}
	return rec, nil
}

// Process names a process by PID and start time (field 22 of
// /proc/PID/stat): a PID alone may have been recycled.
type Process struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
}

// SupervisorOf returns the supervisor recorded for the lab, if any. A run
// asks several times (to plan, to publish its events, to converge the
// processes): it reads that one field, not the whole record and its
// journal (which says nothing of the supervisor); and a record that does
// not name the key at all (a lab without processes) is only checked for
// being JSON, not decoded.
func SupervisorOf(key string) (*Process, error) {
	var rec struct {
		Supervisor *Process `json:"supervisor"`
	}
	_, err := readStateUnless(key, &rec, []byte(`"supervisor"`))
	return rec.Supervisor, err
}

// readState decodes the lab's state record into v (a pointer to a struct:
// "null" leaves it as it is); a missing record leaves v as it is too.
func readState(lab string, v any) (labdir.Dir, error) {
	return readStateUnless(lab, v, nil)
}

// readStateUnless is readState that leaves v as it is, once the record
// is known to be JSON, when the record's text does not contain key (a
// quoted member name: inside a string it would be escaped).
func readStateUnless(lab string, v any, key []byte) (labdir.Dir, error) {
	dir, err := labdir.For(lab)
	if err != nil {
		return dir, err
	}
	b, err := os.ReadFile(dir.State())
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return dir, fmt.Errorf("state %s: read: %w", lab, err)
	case key != nil && !bytes.Contains(b, key) && json.Valid(b):
	default:
		if err := json.Unmarshal(b, v); err != nil {
			return dir, &BadRecordError{Lab: lab, Path: dir.State(), Err: err}
		}
	}
	return dir, nil
}

// SetSupervisor records the lab's supervisor (nil: none). The caller
// holds Lock.
func SetSupervisor(key string, p *Process) error {
	rec, err := loadRecord(key)
	if err != nil {
		return err
	}
	if rec.Supervisor == p || rec.Supervisor != nil && p != nil && *rec.Supervisor == *p {
		return nil
	}
	rec.Supervisor = p
	if rec.empty() && p == nil {
		return nil
	}
	return rec.save()
}

// loadRecordOr is loadRecord, except that a record that cannot be read
// (BadRecordError) is replaced by an empty one when fresh is set; the bad
// record is returned beside it, for the caller to report.
func loadRecordOr(lab string, fresh bool) (*record, *BadRecordError, error) {
	rec, err := loadRecord(lab)
	var bad *BadRecordError
	if errors.As(err, &bad) && fresh {
		rec, err = freshRecord(lab)
	}
	return rec, bad, err
}

// freshRecord is an empty record for lab, whatever is on disk.
func freshRecord(lab string) (*record, error) {
	dir, err := labdir.For(lab)
	if err != nil {
		return nil, err
	}
	rec := &record{Lab: lab, dir: dir, Format: recordFormat}
	rec.index()
	return rec, nil
}

// Adopt takes over the namespaces of nodes that exist under the lab's
// names but are not (provably) the lab's, recording their inodes: the way
// back after a lost or damaged state record, before destroy --adopt. It
// returns the nodes it took. The caller holds Lock.
func Adopt(key string, nodes []string) ([]string, error) {
	rec, _, err := loadRecordOr(key, true)
	if err != nil {
		return nil, err
	}
	var took []string
	for _, n := range nodes {
		if compose.CheckName(n) != nil || rec.owns(n) || !namespaceExists(key, n) {
			continue
		}
		rec.pin(n)
		took = append(took, n)
	}
	if len(took) == 0 {
		return nil, nil
	}
	rec.adopted(took...)
	return took, rec.save()
}

// BadRecordError is a state record that cannot be read. The namespaces it
// named are left alone; the message says how to take them back.
type BadRecordError struct {
	Lab, Path string
	Err       error
}

func (e *BadRecordError) Error() string {
	return fmt.Sprintf("state %s: %s is not a state record (%v); if the lab's namespaces are still there, "+
		"take them back with `netcompose apply --adopt FILE` or remove them with `netcompose destroy --adopt FILE`", e.Lab, e.Path, e.Err)
}

func (e *BadRecordError) Unwrap() error { return e.Err }

func (r *record) index() {
	r.nodes = make(map[string]bool, len(r.Nodes))
	kept := r.Nodes[:0]
	for _, n := range r.Nodes {
		// A hostile or damaged record must not smuggle a path in.
		if compose.CheckName(n) == nil && !r.nodes[n] {
			r.nodes[n] = true
			kept = append(kept, n)
		}
	}
	r.Nodes = kept
}

// save writes the record atomically (a reader sees the old or the new one)
// and then empties the journal, whose news the record now holds.
func (r *record) save() error {
	sort.Strings(r.Nodes)
	b := r.appendJSON(make([]byte, 0, 512))
	if err := r.dir.Make(); err != nil {
		return fmt.Errorf("state %s: %w", r.Lab, err)
	}
	tmp := r.dir.State() + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("state %s: write: %w", r.Lab, err)
	}
	if err := os.Rename(tmp, r.dir.State()); err != nil {
		return fmt.Errorf("state %s: write: %w", r.Lab, err)
	}
	return clearJournal(r.dir)
}

// remove deletes the lab's files by name (labdir.Remove), never a tree.
func (r *record) remove() error {
	if err := r.dir.Remove(); err != nil {
		return fmt.Errorf("state %s: remove: %w", r.Lab, err)
	}
	return nil
}

// empty reports whether the record holds nothing worth keeping.
func (r *record) empty() bool { return len(r.Nodes) == 0 && len(r.Sysctls) == 0 }

func (r *record) clone() *record {
	c := &record{Lab: r.Lab, dir: r.dir, Supervisor: r.Supervisor, Format: r.Format, Nodes: slices.Clone(r.Nodes), Inodes: maps.Clone(r.Inodes),
		Sysctls: map[string]map[string]string{}, Dumps: map[compose.Kind][]string{}}
	for n, m := range r.Sysctls {
		c.Sysctls[n] = maps.Clone(m)
	}
	for k, ns := range r.Dumps {
		c.Dumps[k] = slices.Clone(ns)
	}
	c.index()
	return c
}

func (r *record) has(node string) bool { return r.nodes[node] }

func (r *record) addNode(node string) {
	if !r.nodes[node] {
		r.nodes[node] = true
		r.Nodes = append(r.Nodes, node)
	}
}

func (r *record) removeNode(node string) {
	if r.nodes[node] {
		delete(r.nodes, node)
		r.Nodes = slices.DeleteFunc(r.Nodes, func(n string) bool { return n == node })
	}
	delete(r.Inodes, node)
	delete(r.Sysctls, node)
	for k, ns := range r.Dumps {
		if ns = slices.DeleteFunc(ns, func(n string) bool { return n == node }); len(ns) == 0 {
			delete(r.Dumps, k)
		} else {
			r.Dumps[k] = ns
		}
	}
}

// claim records node as owning the namespace whose inode is ino.
func (r *record) claim(node string, ino uint64) {
	r.addNode(node)
	if r.Inodes == nil {
		r.Inodes = map[string]uint64{}
	}
	r.Inodes[node] = ino
}

// pin records the inode of the node's namespace as it is now.
func (r *record) pin(node string) {
	if ino, ok := namespaceInode(r.Lab, node); ok {
		r.claim(node, ino)
	}
}

// owns reports whether the node's namespace exists and is the one the
// record names: proven by the recorded inode.
func (r *record) owns(node string) bool {
	if !r.has(node) {
		return false
	}
	want, pinned := r.Inodes[node]
	if !pinned {
		return false
	}
	ino, ok := namespaceInode(r.Lab, node)
	return ok && want == ino
}

// prune forgets the nodes whose namespace is gone (deleted by hand, or by
// a reboot) or is not the one the lab made: nothing of the lab is left
// there, and a later create records the node afresh. Unproven entries
// whose namespace exists stay, so that diff can warn about them.
// It reports whether it forgot any.
func (r *record) prune() bool {
	n := len(r.Nodes)
	for _, node := range slices.Clone(r.Nodes) {
		if r.owns(node) {
			continue
		}
		if _, pinned := r.Inodes[node]; !pinned && namespaceExists(r.Lab, node) {
			continue
		}
		r.removeNode(node)
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

// adopted notes nodes taken back with a history nobody knows (after a
// lost record): static neighbours of the lab's may be anywhere in them, as
// in the nodes of a record from before they had a dump of their own.
// (The other dumped kinds look where the file puts theirs, as before.)
func (r *record) adopted(nodes ...string) {
	r.addDump(compose.KindNeigh, nodes...)
}

func (r *record) addDump(kind compose.Kind, nodes ...string) {
	if r.Dumps == nil {
		r.Dumps = map[compose.Kind][]string{}
	}
	for _, n := range nodes {
		if !slices.Contains(r.Dumps[kind], n) {
			r.Dumps[kind] = append(r.Dumps[kind], n)
		}
	}
}
