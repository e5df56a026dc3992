package kernel

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netcompose/netcompose/internal/labdir"
)

func TestSysctlPath(t *testing.T) {
	tests := []struct {
		name, key, want string
		err             bool
	}{
		{"plain key", "net.ipv4.ip_forward", "/proc/sys/net/ipv4/ip_forward", false},
		{"interface conf", "net.ipv4.conf.eth0.arp_ignore", "/proc/sys/net/ipv4/conf/eth0/arp_ignore", false},
		{"vlan interface keeps its dot", "net.ipv4.conf.eth0.100.rp_filter", "/proc/sys/net/ipv4/conf/eth0.100/rp_filter", false},
		{"neigh table of a vlan", "net.ipv6.neigh.eth0.7.base_reachable_time_ms", "/proc/sys/net/ipv6/neigh/eth0.7/base_reachable_time_ms", false},
		{"not net", "kernel.hostname", "", true},
		{"empty part", "net..ip_forward", "", true},
		{"path escape", "net.ipv4.conf.a/b.x", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sysctlPath(tt.key)
			if (err != nil) != tt.err {
				t.Fatalf("sysctlPath(%q) error %v, want error %v", tt.key, err, tt.err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("sysctlPath(%q) (-want +got):\n%s", tt.key, d)
			}
		})
	}
}

func TestOwner(t *testing.T) {
	s := newSession("lab1", &record{Lab: "lab1"})
	tests := []struct {
		name, alias string
		ok          bool
		kind, item  string
	}{
		{"veth of the lab", "netcompose:lab1:veth:r1-r2", true, "veth", "r1-r2"},
		{"bridge of the lab", "netcompose:lab1:bridge:br0", true, "bridge", "br0"},
		{"another lab", "netcompose:lab10:veth:x", false, "", ""},
		{"hand-made alias", "uplink to the lab", false, "", ""},
		{"no alias", "", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, name, ok := s.owner(tt.alias)
			if ok != tt.ok || string(k) != tt.kind || name != tt.item {
				t.Errorf("owner(%q) = %q, %q, %v; want %q, %q, %v", tt.alias, k, name, ok, tt.kind, tt.item, tt.ok)
			}
		})
	}
	if a := s.alias("veth", "r1-r2"); a != "netcompose:lab1:veth:r1-r2" {
		t.Errorf("alias = %q", a)
	}
}

func TestLockWaits(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	unlock, err := Lock(context.Background(), lab, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithCancel(context.Background())
	waited := false
	_, err = Lock(ctx, lab, true, func() { waited = true; cancel() })
	if !waited || !errors.Is(err, context.Canceled) {
		t.Errorf("second Lock with wait: waiting called %v, err %v; want true, context.Canceled", waited, err)
	}
}

func labDir(lab string) string     { return labdir.MustFor(lab).Path }
func recordPath(lab string) string { return labdir.MustFor(lab).State() }
