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

	Nodes     []*Node
	Veths     []*Veth
	Bridges   []*Bridge
	Vxlans    []*Vxlan
	ARPs      []*ARP
	NFQueues  []*NFQueue
	Filters   []*Filter
	Pipelines []*Pipeline
	Services  []*Service
	Kmods     []*Kmod
	Checks    []*Check
	Hosts     []*Host

	byName map[string]*Node // index of Nodes, built by Build
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

// Build turns loaded sections into a typed, validated lab. The error joins
// one *loader.Error per problem found, each at its file and line. A
// section the loader marked Partial is not blamed for keys it lacks.
func Build(f *loader.File) (*Lab, error) {
	lab := &Lab{Path: f.Path}
	var errs []error
	globals := map[string]loader.Pos{}
	for _, g := range f.Globals {
		globals[g.Key] = g.Pos
	}
	lab.Name, errs = labName(f)

	for _, s := range f.Sections {
		r := newReader(s, globals)
		switch s.Type {
		case "netns":
			lab.Nodes = append(lab.Nodes, readNode(r))
		case "veth":
			lab.Veths = append(lab.Veths, readVeth(r))
		case "bridge":
			lab.Bridges = append(lab.Bridges, readBridge(r))
		case "vxlan":
			lab.Vxlans = append(lab.Vxlans, readVxlan(r))
		case "arp":
			lab.ARPs = append(lab.ARPs, readARP(r))
		case "nfqueue":
			lab.NFQueues = append(lab.NFQueues, readNFQueue(r))
		case "filter":
			lab.Filters = append(lab.Filters, readFilter(r))
		case "pipeline":
			lab.Pipelines = append(lab.Pipelines, readPipeline(r))
		case "service":
			lab.Services = append(lab.Services, readService(r))
		case "kmod":
			lab.Kmods = append(lab.Kmods, readKmod(r))
		case "check":
			lab.Checks = append(lab.Checks, readCheck(r))
		case "host":
			lab.Hosts = append(lab.Hosts, readHost(r))
		default:
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
