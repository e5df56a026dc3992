package compose

import "github.com/netcompose/netcompose/kmod"

// Modules lists the [kmod:] sections as modules for the preflight
// (kmod.Check), in file order.
func (l *Lab) Modules() []kmod.Module {
	var ms []kmod.Module
	for _, k := range l.Kmods {
		ms = append(ms, kmod.Module{Name: k.Module, Params: k.Params, Optional: k.Optional})
	}
	return ms
}
