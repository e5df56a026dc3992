package compose

// A tc filter on a bridge port (clsact ingress or egress, a match-all u32
// with a mirred action) that copies the port's traffic to a monitor
// interface: a port group mirrored to a security VM. Name is
// "PORT/ingress" (what the port's VM sends) or "PORT/egress" (what it
// receives); attr to is the monitor interface.

var mirrorKind = &KindInfo{
	Kind:   KindMirror,
	Ifname: ifnameBefore,
	Label:  ifnameAndRest,
	Text:   func(r *Resource) string { return "  → " + r.Attrs["to"] },
}
