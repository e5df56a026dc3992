package compose

import "strings"

// readCapture reads an icmp check's capture = NODE:IF, an interface that
// watches while the check's echoes go, and captured = yes|no: whether it
// must see the echo requests (a monitor port that mirrors the segment),
// default yes, or must not.
func readCapture(r *reader, c *Check) {
	v := r.str("capture", "")
	c.Captured = r.boolean("captured", true)
	if _, ok := r.meta.Keys["captured"]; ok && v == "" {
		r.errorf("captured", "captured: without capture = NODE:IF there is nothing to watch")
	}
	if v == "" {
		return
	}
	if c.Protocol != "icmp" {
		r.errorf("capture", "capture: only for protocol = icmp")
		return
	}
	node, ifn, ok := strings.Cut(v, ":")
	if !ok || node == "" || ifn == "" {
		r.errorf("capture", "capture: want NODE:IF, the interface that watches, got %q", v)
		return
	}
	c.Capture = End{node, ifn}
}

// checkCapture checks that a check's capture interface is the lab's.
func (v *validator) checkCapture(c *Check) {
	if c.Capture == (End{}) {
		return
	}
	if v.node(c.Meta, "capture", c.Capture.Node) {
		v.iface(c.Meta, "capture", c.Capture.Node, c.Capture.Ifname)
	}
}
