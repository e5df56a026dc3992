package compose

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/netcompose/netcompose/loader"
)

// Lab is the typed topology graph of one file: every section as a value
// of its kind, validated. Slices are in file order.
type Lab struct {
	Name string // [DEFAULT] lab, else the file name's stem
	Path string // the file it was built from

	Nodes      []*Node
	Veths      []*Veth
	Bridges    []*Bridge
	Vxlans     []*Vxlan
	PortGroups []*PortGroup
	ARPs       []*ARP
	NFQueues   []*NFQueue
	Filters    []*Filter
	Pipelines  []*Pipeline
	Services   []*Service
	Kmods      []*Kmod
	Checks     []*Check
	Hosts      []*Host

	byName map[string]*Node // index of Nodes, built by Build
	metas  []Meta           // every section read, in file order
}

// Load reads the topology file at path (opts go to the loader) and builds
// its lab.
func Load(path string, opts ...loader.Option) (*Lab, error) {
	_, lab, err := LoadFile(path, opts...)
	return lab, err
}

// LoadFile is Load that also returns the loaded file, for writing it back.
// It reports every problem of the file in one run: a file the loader
// found problems in is built all the same, to find the rest, and both are
// returned together (with a nil file and lab).
func LoadFile(path string, opts ...loader.Option) (*loader.File, *Lab, error) {
	f, err := loader.Load(path, opts...)
	lab, err := buildLoaded(f, err)
	if err != nil {
		return nil, nil, err
	}
	return f, lab, nil
}

// buildLoaded builds f, which the loader returned with loadErr: a partial file
// is built too, and its problems join the loader's. f may be nil (the
// file could not be read).
func buildLoaded(f *loader.File, loadErr error) (*Lab, error) {
	if f == nil {
		return nil, loadErr
	}
	lab, err := Build(f)
	if loadErr != nil {
		return nil, flatten(errors.Join(loadErr, err))
	}
	return lab, err
}

// sectionTypes reads a section of each type into the lab and returns its
// Meta: one row per section type.
var sectionTypes = map[string]func(l *Lab, r *reader) Meta{
	"netns":     func(l *Lab, r *reader) Meta { return add(&l.Nodes, readNode(r)).Meta },
	"veth":      func(l *Lab, r *reader) Meta { return add(&l.Veths, readVeth(r)).Meta },
	"bridge":    func(l *Lab, r *reader) Meta { return add(&l.Bridges, readBridge(r)).Meta },
	"vxlan":     func(l *Lab, r *reader) Meta { return add(&l.Vxlans, readVxlan(r)).Meta },
	"portgroup": func(l *Lab, r *reader) Meta { return add(&l.PortGroups, readPortGroup(r)).Meta },
	"arp":       func(l *Lab, r *reader) Meta { return add(&l.ARPs, readARP(r)).Meta },
	"nfqueue":   func(l *Lab, r *reader) Meta { return add(&l.NFQueues, readNFQueue(r)).Meta },
	"filter":    func(l *Lab, r *reader) Meta { return add(&l.Filters, readFilter(r)).Meta },
	"pipeline":  func(l *Lab, r *reader) Meta { return add(&l.Pipelines, readPipeline(r)).Meta },
	"service":   func(l *Lab, r *reader) Meta { return add(&l.Services, readService(r)).Meta },
	"kmod":      func(l *Lab, r *reader) Meta { return add(&l.Kmods, readKmod(r)).Meta },
	"check":     func(l *Lab, r *reader) Meta { return add(&l.Checks, readCheck(r)).Meta },
	"host":      func(l *Lab, r *reader) Meta { return add(&l.Hosts, readHost(r)).Meta },
}

// add appends x to *list and returns it.
func add[T any](list *[]T, x T) T {
	*list = append(*list, x)
	return x
}

// Build turns loaded sections into a typed, validated lab. The error joins
// one *loader.Error per problem found, each at its file and line. A
// section the loader marked Partial is not blamed for keys it lacks.
func Build(f *loader.File) (*Lab, error) {
	lab := &Lab{Path: f.Path}
	var errs []error
	globals := map[string]loader.Value{}
	for _, g := range f.Globals {
		globals[g.Key] = g
	}
	lab.Name, errs = labName(f)
	if len(f.Sections) == 0 {
		// An empty file (or only [DEFAULT]) would apply as "no changes"
		// and report nothing: say what is wrong instead.
		errs = append(errs, &loader.Error{Pos: loader.Pos{File: f.Path, Line: 1},
			Err: errors.New("the lab is empty: no [netns:NAME] or other [type:name] sections")})
	}

	for _, s := range f.Sections {
		r := newReader(s, globals)
		if read, ok := sectionTypes[s.Type]; ok {
			lab.metas = append(lab.metas, read(lab, r))
		} else {
			r.errorf("", "unknown section type %q", s.Type)
		}
		if err := r.done(); err != nil {
			errs = append(errs, err)
		}
	}
	lab.byName = make(map[string]*Node, len(lab.Nodes))
	for _, n := range lab.Nodes {
		lab.byName[n.Name] = n
	}
	if err := lab.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, flatten(err)
	}
	return lab, nil
}

// labName is [DEFAULT] lab, else the file name's stem; it prefixes every
// namespace name, so it must be as safe as a node name.
func labName(f *loader.File) (string, []error) {
	name := strings.TrimSuffix(filepath.Base(f.Path), filepath.Ext(f.Path))
	pos := loader.Pos{File: f.Path}
	for _, g := range f.Globals {
		if g.Key == "lab" {
			name, pos = strings.TrimSpace(g.Value), g.Pos
		}
	}
	if err := safeName(name); err != nil {
		return name, []error{&loader.Error{Pos: pos, Section: "DEFAULT", Err: fmt.Errorf("lab name: %w", err)}}
	}
	return name, nil
}

// flatten turns nested joins into one flat join, one error per problem,
// ordered by file and line so the report reads like the file.
func flatten(err error) error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		out = append(out, e)
	}
	walk(err)
	pos := func(e error) loader.Pos {
		var le *loader.Error
		if errors.As(e, &le) {
			return le.Pos
		}
		return loader.Pos{}
	}
	slices.SortStableFunc(out, func(a, b error) int {
		pa, pb := pos(a), pos(b)
		return cmp.Or(strings.Compare(pa.File, pb.File), cmp.Compare(pa.Line, pb.Line))
	})
	return errors.Join(out...)
}

// Node is the lab node of that name.
func (l *Lab) Node(name string) (*Node, bool) {
	if l.byName != nil {
		n, ok := l.byName[name]
		return n, ok
	}
	for _, n := range l.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return nil, false
}

// Namespace is the kernel name of a node's namespace.
func (l *Lab) Namespace(node string) string { return NamespaceName(l.Name, node) }
