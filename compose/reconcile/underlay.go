package reconcile

import "github.com/netcompose/netcompose/compose/kernel"

// CheckUnderlay checks that the tunnels of t that would be created on
// this machine's own network (or in underlayNetns, which simulates one)
// have their local address there (kernel.CheckLocal). Run does it before
// anything changes; diff and status do it too, since a lab built on the
// wrong machine would otherwise read as in sync.
func CheckUnderlay(t Target, underlayNetns string) error {
	// Only tunnels have an underlay: a lab without any is not lowered
	// here (Run lowers it once, later).
	if t.Destroying() || len(t.Lab.Vxlans) == 0 {
		return nil
	}
	return kernel.CheckLocal(t.Key, t.Lab.Resources(), underlayNetns)
}
