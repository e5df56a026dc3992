package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/labdir"
	"github.com/netcompose/netcompose/internal/nsrun"
	"golang.org/x/sys/unix"
)

// namespaceName is the kernel name of a node's namespace for a state
// key: the host part of "<lab>@<host>" (compose.StateKey) keeps records
// and locks apart, never namespace names.
func namespaceName(key, node string) string {
	lab, _ := compose.SplitStateKey(key)
	return compose.NamespaceName(lab, node)
}

func namespacePath(key, node string) string { return nsrun.Path(namespaceName(key, node)) }

// namespaceExists reports whether a namespace is mounted under the node's
// name; an empty placeholder file there is not one.
func namespaceExists(key, node string) bool {
	_, ok := namespaceInode(key, node)
	return ok
}

// namespaceInode is the inode of the node's namespace (its nsfs inode,
// seen through the bind mount under /run/netns); false when nothing is
// mounted there.
func namespaceInode(key, node string) (uint64, bool) {
	ino, found := lookNamespace(key, node)
	return ino, found == nsMounted
}

// nsFound is what is at a node's namespace path.
type nsFound int

const (
	nsAbsent  nsFound = iota // nothing
	nsMounted                // a namespace
	nsOther                  // a file with no namespace on it (a placeholder?), or what could not be looked at
)

// lookNamespace is namespaceInode that also tells an absent path from
// one that holds something else.
func lookNamespace(key, node string) (uint64, nsFound) {
	var st unix.Stat_t
	if err := unix.Stat(namespacePath(key, node), &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return 0, nsAbsent
		}
		return 0, nsOther
	}
	if !isNsfs(&st) {
		return 0, nsOther
	}
	return st.Ino, nsMounted
}

// nsfsDev is the device of the namespace filesystem, learnt from our own
// namespace: a file under /run/netns with that device is a mounted
// namespace; anything else is a plain file.
var nsfsDev = sync.OnceValue(func() uint64 {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/net", &st) != nil {
		return 0
	}
	return st.Dev
})

func isNsfs(st *unix.Stat_t) bool { dev := nsfsDev(); return dev == 0 || st.Dev == dev }

// isPlaceholder reports whether p is an empty regular file with nothing
// mounted on it: what `ip netns add` and netcompose create before the
// bind mount, and leave behind when killed in between.
func isPlaceholder(p string) bool {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size == 0 && !isNsfs(&st)
}

// LabInfo describes a lab that has a state record on this machine.
type LabInfo struct {
	Name  string   `json:"name"`
	Nodes []string `json:"nodes"`
	// Missing lists recorded nodes whose namespace no longer exists.
	Missing []string `json:"missing,omitempty"`
	// Error says why the record could not be read; the lab is listed all
	// the same, so one bad record hides no other lab.
	Error string `json:"error,omitempty"`
}

// Keys lists the state keys (labs, and "<lab>@<host>" slices) with a
// state record or a journal on this machine, by name, without reading
// them: cheap enough for every command to ask.
func Keys() ([]string, error) {
	ents, err := os.ReadDir(labdir.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("labs: %w", err)
	}
	var out []string
	for _, e := range ents {
		d, err := labdir.For(e.Name())
		if !e.IsDir() || err != nil {
			continue
		}
		if _, err := os.Stat(d.State()); err != nil {
			if _, jerr := os.Stat(journalPath(d)); jerr != nil {
				continue
			}
		}
		out = append(out, e.Name())
	}
	return out, nil
}

// Labs lists the labs with a state record on this machine, by name.
func Labs() ([]LabInfo, error) {
	keys, err := Keys()
	if err != nil {
		return nil, err
	}
	var out []LabInfo
	for _, key := range keys {
		out = append(out, Lab(key))
	}
	return out, nil
}

// Lab describes the record of one state key, as Labs lists it.
func Lab(key string) LabInfo {
	rec, err := loadRecord(key)
	if err != nil {
		return LabInfo{Name: key, Error: err.Error()}
	}
	li := LabInfo{Name: key, Nodes: slices.Sorted(slices.Values(rec.Nodes))}
	for _, n := range li.Nodes {
		if !rec.owns(n) {
			li.Missing = append(li.Missing, n)
		}
	}
	return li
}
