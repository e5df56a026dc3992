package kernel

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/bridgeport"
)

// brvlanDriver manages the VLANs of the ports of the lab's VLAN-aware
// bridges, and of those bridges themselves (attrs bridge; pvid: the VID
// untagged frames coming in are put in, "" for none; untagged and
// tagged: the VIDs sent out untagged and tagged, as compose.VIDText
// writes them). Create and update converge the port to exactly these
// VLANs from what the kernel holds then (the kernel gives a port its
// bridge's default PVID when it is enslaved); delete takes them all.
type brvlanDriver struct{}

func (brvlanDriver) observe(s *session, snaps []*snapshot, _ []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		for _, p := range sn.ports {
			if m, owned := sn.owned[p.Master]; !owned || m.kind != compose.KindBridge || !vlanFiltering(sn.byIndex[p.Master]) {
				continue
			}
			attrs := vlanAttrs(p.VLANs)
			attrs["bridge"] = sn.ifname(p.Master)
			out = append(out, compose.Resource{Kind: compose.KindBrVlan, Node: sn.node, Name: sn.ifname(p.Index), Attrs: attrs})
		}
	}
	return out, nil
}

// vlanAttrs writes a port's VLANs as brvlan attributes.
func vlanAttrs(vs []bridgeport.VLAN) map[string]string {
	var untagged, tagged []int
	pvid := ""
	for _, v := range vs {
		if v.PVID {
			pvid = strconv.Itoa(int(v.VID))
		}
		if v.Untagged {
			untagged = append(untagged, int(v.VID))
		} else {
			tagged = append(tagged, int(v.VID))
		}
	}
	return map[string]string{"pvid": pvid, "untagged": compose.VIDText(untagged), "tagged": compose.VIDText(tagged)}
}

// wantVLANs reads brvlan attributes back into the VLANs they describe.
func wantVLANs(r compose.Resource) (map[uint16]bridgeport.VLAN, error) {
	bad := func(k string) error { return fmt.Errorf("brvlan %s in %s: bad %s %q", r.Name, r.Node, k, r.Attrs[k]) }
	out := map[uint16]bridgeport.VLAN{}
	for _, k := range []string{"tagged", "untagged"} {
		ids, err := compose.ParseVIDs(r.Attrs[k])
		if err != nil {
			return nil, bad(k)
		}
		for _, id := range ids {
			out[uint16(id)] = bridgeport.VLAN{VID: uint16(id), Untagged: k == "untagged"}
		}
	}
	if p := r.Attrs["pvid"]; p != "" {
		id, err := strconv.Atoi(p)
		if err != nil || id < 1 || id > 4094 {
			return nil, bad("pvid")
		}
		v, ok := out[uint16(id)]
		if !ok {
			v = bridgeport.VLAN{VID: uint16(id)}
		}
		v.PVID = true
		out[uint16(id)] = v
	}
	return out, nil
}

func (d brvlanDriver) create(s *session, r compose.Resource) error { return d.converge(s, r, false) }

func (d brvlanDriver) update(s *session, _, after compose.Resource) error {
	return d.converge(s, after, false)
}

func (d brvlanDriver) delete(s *session, r compose.Resource) error { return d.converge(s, r, true) }

// converge brings the port's VLANs to r's (none when clear): first the
// VIDs it should not carry go, then each VID it should carry is added,
// which also sets its flags on one it has (a VID's PVID or untagged flag
// is cleared by adding it without).
func (brvlanDriver) converge(s *session, r compose.Resource, clear bool) error {
	want := map[uint16]bridgeport.VLAN{}
	if !clear {
		var err error
		if want, err = wantVLANs(r); err != nil {
			return err
		}
	}
	h, l, err := s.linkAt(r.Node, r.Name)
	if clear && gone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ports, err := s.bridgePorts(r.Node)
	if err != nil {
		return fmt.Errorf("brvlan %s in %s: %w", r.Name, r.Node, err)
	}
	p, ok := ports[l.Attrs().Index]
	if !ok {
		if clear {
			return nil // no longer a port: its VLANs went with it
		}
		return fmt.Errorf("brvlan %s in %s: not a bridge port", r.Name, r.Node)
	}
	// The bridge's own VLANs are "self", a port's "master".
	self := p.Index == p.Master
	have := map[uint16]bridgeport.VLAN{}
	for _, v := range p.VLANs {
		have[v.VID] = v
	}
	for _, vid := range slices.Sorted(maps.Keys(have)) {
		if _, keep := want[vid]; keep {
			continue
		}
		if err := h.BridgeVlanDel(l, vid, false, false, self, !self); err != nil && !gone(err) {
			return fmt.Errorf("brvlan %s in %s: remove vlan %d: %w", r.Name, r.Node, vid, err)
		}
	}
	for _, vid := range slices.Sorted(maps.Keys(want)) {
		w := want[vid]
		if v, ok := have[vid]; ok && v == w {
			continue
		}
		if err := h.BridgeVlanAdd(l, vid, w.PVID, w.Untagged, self, !self); err != nil {
			return fmt.Errorf("brvlan %s in %s: vlan %d: %w", r.Name, r.Node, vid, err)
		}
	}
	return nil
}
