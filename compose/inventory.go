package compose

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Inventory is a multi-host lab as an orchestrator sees it: the machines
// to reach, and on each one the slice it applies. netcompose has no
// controller of its own; this is what it hands to one (Ansible's
// inventory, see deploy/ansible and docs/multihost.md).
type Inventory struct {
	Lab     string   // the lab's name (after --set)
	LabFile string   // the lab file as the controller reaches it
	Set     []string // the KEY=VALUE globals every host must load the file with
	Hosts   []InventoryHost
}

// InventoryHost is one machine of the inventory.
type InventoryHost struct {
	Name    string // its name in the inventory
	LabHost string // the [host:] whose slice it applies (--host)
	// Address is where the orchestrator reaches the machine: the
	// host's underlay address unless told otherwise; "" when the
	// inventory should not say (a host renamed onto an existing
	// inventory name, whose entry there knows how to reach it, or one
	// without underlay).
	Address string
}

// InventoryOptions say how the lab's hosts appear in an inventory.
type InventoryOptions struct {
	LabFile string
	Set     []string
	// Names maps a lab host to the name a machine already has in the
	// user's inventory; such a host gets no Address unless Addresses
	// gives one.
	Names map[string]string
	// Addresses maps a lab host to the address to reach it at, when
	// that is not its underlay address (a management network).
	Addresses map[string]string
}

// Inventory lists the lab's [host:] sections, in file order, as machines
// of an inventory. It fails, naming every problem, when the lab has no
// hosts, when an option names a host the lab lacks, when two hosts would
// share an inventory name, or when a host's slice cannot be built (a
// playbook would fail there later, on that machine).
func (l *Lab) Inventory(o InventoryOptions) (*Inventory, error) {
	if len(l.Hosts) == 0 {
		return nil, fmt.Errorf("lab %s declares no [host:] sections: it runs on one machine (netcompose apply %s)", l.Name, o.LabFile)
	}
	var errs []error
	for _, opt := range []struct {
		flag string
		m    map[string]string
	}{{"--name", o.Names}, {"--ansible-host", o.Addresses}} {
		for _, h := range slices.Sorted(maps.Keys(opt.m)) {
			if l.host(h) == nil {
				errs = append(errs, fmt.Errorf("%s %s=%s: lab %s has no [host:%s] (hosts: %s)",
					opt.flag, h, opt.m[h], l.Name, h, strings.Join(l.hostNames(), ", ")))
			}
		}
	}
	inv := &Inventory{Lab: l.Name, LabFile: o.LabFile, Set: o.Set}
	seen := map[string]string{} // inventory name → lab host
	for _, h := range l.Hosts {
		ih := InventoryHost{Name: h.Name, LabHost: h.Name}
		if h.Underlay.IsValid() {
			ih.Address = h.Underlay.String()
		}
		if n, ok := o.Names[h.Name]; ok {
			ih.Name, ih.Address = n, ""
		}
		if a, ok := o.Addresses[h.Name]; ok {
			ih.Address = a
		}
		if err := inventoryName(ih.Name); err != nil {
			errs = append(errs, fmt.Errorf("[host:%s]: inventory name %q: %w", h.Name, ih.Name, err))
		}
		if prev, ok := seen[ih.Name]; ok {
			errs = append(errs, fmt.Errorf("[host:%s] and [host:%s] would both be %s in the inventory: one machine applies one slice", prev, h.Name, ih.Name))
		}
		seen[ih.Name] = h.Name
		if _, err := l.ForHost(h.Name); err != nil {
			errs = append(errs, err)
		}
		inv.Hosts = append(inv.Hosts, ih)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return inv, nil
}

// inventoryName refuses names an inventory cannot hold: an INI
// inventory's host line splits on blanks, '#' starts a comment, '[' a
// section, and '=' or ':' would read as a variable or a port.
func inventoryName(name string) error {
	if name == "" {
		return errors.New("empty")
	}
	if i := strings.IndexFunc(name, func(r rune) bool {
		return r <= ' ' || strings.ContainsRune("#[]=:,'\"\\", r)
	}); i >= 0 {
		return fmt.Errorf("%q cannot be in a host name", name[i:i+1])
	}
	return nil
}
