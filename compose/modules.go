package compose

// Module is a kernel module the lab needs, from a [kmod:] section.
type Module struct {
	Name     string
	Params   string
	Optional bool
}

// Modules lists the [kmod:] sections as modules for the preflight, in
// file order. (The preflight itself, package kmod, talks to the kernel;
// the model only says what it wants.)
func (l *Lab) Modules() []Module {
	var ms []Module
	for _, k := range l.Kmods {
		ms = append(ms, Module{Name: k.Module, Params: k.Params, Optional: k.Optional})
	}
	return ms
}
