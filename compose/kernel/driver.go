package kernel

import (
	"errors"

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

var drivers = map[compose.Kind]driver{
	compose.KindNetns:  netnsDriver{},
	compose.KindVeth:   vethDriver{},
	compose.KindBridge: bridgeDriver{},
	compose.KindMaster: masterDriver{},
	compose.KindAddr:   addrDriver{},
	compose.KindSysctl: sysctlDriver{},
	compose.KindRoute:  routeDriver{},
	compose.KindRule:   ruleDriver{},
	compose.KindVxlan:  vxlanDriver{},
	compose.KindNeigh:  neighDriver{},
	compose.KindFDB:    fdbDriver{},
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
