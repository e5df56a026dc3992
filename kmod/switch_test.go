package kmod

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// kernelAtLeast reports whether the running kernel is major.minor or newer.
func kernelAtLeast(t *testing.T, major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	f := strings.FieldsFunc(unix.ByteSliceToString(u.Release[:]), func(r rune) bool { return r < '0' || r > '9' })
	if len(f) < 2 {
		t.Fatalf("kernel release %q", unix.ByteSliceToString(u.Release[:]))
	}
	ma, _ := strconv.Atoi(f[0])
	mi, _ := strconv.Atoi(f[1])
	return ma > major || ma == major && mi >= minor
}

// The port flags newer than the bridge have no option of their own: their
// probe must find them from the kernel version that brought them on.
func TestPortFlagProbesFollowTheKernelVersion(t *testing.T) {
	needRoot(t)
	noScratchLeft(t)
	for _, tc := range []struct {
		feature      string
		major, minor int
	}{
		{"bridge_neigh_suppress", 4, 15},
		{"bridge_isolated", 4, 18},
		{"bridge_locked", 5, 18},
	} {
		err := Probe(context.Background(), Features[tc.feature].Needs[0].Probe)
		if kernelAtLeast(t, tc.major, tc.minor) && err != nil {
			t.Errorf("%s: probe failed on a kernel since %d.%d: %v", tc.feature, tc.major, tc.minor, err)
		}
	}
}

// Where the kernel config says 802.1Q is not built and the kernel loads
// no modules, the VLAN probes fail, and the report names what is missing
// and why in one message.
func TestVLANFeaturesMissingSayWhy(t *testing.T) {
	needRoot(t)
	noScratchLeft(t)
	cfg := kernelConfig(t)
	if cfg == nil || cfg["CONFIG_VLAN_8021Q"] != "" || cfg["CONFIG_MODULES"] == "y" {
		t.Skip("a kernel built without 802.1Q and without modules shows this")
	}
	rep := System().Check(context.Background(), []string{"vlan", "bridge_vlan"}, nil)
	for _, res := range rep.Results {
		var me *MissingError
		if res.Present || !errors.As(res.Err, &me) || me.Feature != res.Name {
			t.Errorf("%s: present %v, err %v; want a *MissingError", res.Name, res.Present, res.Err)
			continue
		}
		for _, want := range []string{"kernel feature " + res.Name + " is missing", Features[res.Name].Needs[0].Config, "probe " + res.Name + ":"} {
			if !strings.Contains(res.Err.Error(), want) {
				t.Errorf("%s: %q does not say %q", res.Name, res.Err, want)
			}
		}
	}
}

// A piece that is neither an option nor a module is named by what it is.
func TestMissingKernelVersionFeatureIsNamed(t *testing.T) {
	c := &Checker{Probe: func(context.Context, string) error { return errors.New("the kernel ignored IFLA_BRPORT_LOCKED") }}
	err := c.Check(context.Background(), []string{"bridge_locked"}, nil).Err()
	want := "kernel feature bridge_locked is missing: bridge port locking (Linux 5.18): probe bridge_locked: the kernel ignored IFLA_BRPORT_LOCKED"
	if err == nil || err.Error() != want {
		t.Errorf("Err() = %v, want %q", err, want)
	}
}
