package kmod

import (
	"context"
	"testing"
)

// The qdisc probes say what the kernel config says, both ways: a kernel
// built without netem (as some cloud kernels are) must fail the probe,
// not pass it, or apply would fail half way instead of at the preflight.
func TestQdiscProbesAgreeWithConfig(t *testing.T) {
	needRoot(t)
	noScratchLeft(t)
	cfg := kernelConfig(t)
	if cfg == nil {
		t.Skip("no /proc/config.gz to compare with")
	}
	for _, name := range []string{"netem", "tbf"} {
		n := Features[name].Needs[0]
		if n.Module != "" && cfg[n.Config] == "m" {
			continue // a module: the probe depends on whether it can load
		}
		err := Probe(context.Background(), n.Probe)
		switch {
		case cfg[n.Config] == "y" && err != nil:
			t.Errorf("%s: probe: %v, but %s=y", name, err, n.Config)
		case cfg[n.Config] == "" && err == nil:
			t.Errorf("%s: probe passed, but %s is not set", name, n.Config)
		default:
			t.Logf("%s: %s=%q, probe: %v", name, n.Config, cfg[n.Config], err)
		}
	}
}
