package kernel

import (
	"errors"
	"fmt"

	"github.com/netcompose/netcompose/compose"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// driver observes and changes the resources of one kind. Adding a kind is
// one file with its driver and one line in drivers.
type driver interface {
	// observe derives the kind's actual resources from the snapshots of
	// the lab's namespaces; desired helps only to name things (which end
	// of a veth is "a"), never to decide what exists.
	observe(s *session, snaps []*snapshot, desired []compose.Resource) ([]compose.Resource, error)
	create(s *session, r compose.Resource) error
	update(s *session, before, after compose.Resource) error
	delete(s *session, r compose.Resource) error
}

// dumper is a driver whose objects are not in the snapshot's link,
// address and route dumps (policy rules, iptables rules): Observe runs its
// dump in the same parallel pass, only in the nodes where the kind has
// objects (the record's Dumps) or wants some (desired).
type dumper interface {
	driver
	dump(s *session, sn *snapshot) (any, error)
}

// dumpNodes lists, per dumping kind, the nodes to dump.
func dumpNodes(rec *record, desired []compose.Resource) map[compose.Kind]map[string]bool {
	out := map[compose.Kind]map[string]bool{}
	add := func(k compose.Kind, node string) {
		if _, ok := drivers[k].(dumper); !ok {
			return
		}
		if out[k] == nil {
			out[k] = map[string]bool{}
		}
		out[k][node] = true
	}
	for k, nodes := range rec.Dumps {
		for _, n := range nodes {
			add(k, n)
		}
	}
	for _, r := range desired {
		add(r.Kind, r.Node)
	}
	return out
}

// dumpKinds runs the dumps the node needs into its snapshot.
func (s *session) dumpKinds(sn *snapshot, dumps map[compose.Kind]map[string]bool) error {
	for k, nodes := range dumps {
		if !nodes[sn.node] {
			continue
		}
		v, err := drivers[k].(dumper).dump(s, sn)
		if err != nil {
			return fmt.Errorf("netns %s: %s: %w", s.nsName(sn.node), k, err)
		}
		if sn.dumps == nil {
			sn.dumps = map[compose.Kind]any{}
		}
		sn.dumps[k] = v
	}
	return nil
}

var drivers = map[compose.Kind]driver{
	compose.KindNetns:    netnsDriver{},
	compose.KindVeth:     vethDriver{},
	compose.KindBridge:   bridgeDriver{},
	compose.KindVlan:     vlanDriver{},
	compose.KindMaster:   masterDriver{},
	compose.KindBrVlan:   brvlanDriver{},
	compose.KindBrPort:   brportDriver{},
	compose.KindBrFDB:    brfdbDriver{},
	compose.KindMirror:   mirrorDriver{},
	compose.KindAddr:     addrDriver{},
	compose.KindSysctl:   sysctlDriver{},
	compose.KindRoute:    routeDriver{},
	compose.KindRule:     ruleDriver{},
	compose.KindVxlan:    vxlanDriver{},
	compose.KindNeigh:    neighDriver{},
	compose.KindFDB:      fdbDriver{},
	compose.KindIPTables: iptablesDriver{},
	compose.KindQdisc:    qdiscDriver{},
}

// gone reports whether err says the object is not there, which a delete
// takes as done.
func gone(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, errNoSuchDevice) || errors.Is(err, errNoEntry) ||
		errors.Is(err, errNoProcess) || errors.Is(err, errNotAvailable)
}

var (
	errNoSuchDevice = unix.ENODEV
	errNoEntry      = unix.ENOENT
	errNoProcess    = unix.ESRCH // a route or neighbour delete that found nothing
	errNotAvailable = unix.EADDRNOTAVAIL
)
