package reconcile

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/kernel"
	"github.com/netcompose/netcompose/internal/check"
)

// TestPlanChecks maps checks to probe specs without a kernel: node names
// become namespaces and first addresses, addresses find their owner, and
// arp answers become the kernel's MACs.
func TestPlanChecks(t *testing.T) {
	lab := loadString(t, `[DEFAULT]
lab = pc
[netns:a]
address.eth0 = 10.0.0.1/24
[netns:b]
address.lo = 10.9.9.9/32
address.eth0 = 2001:db8::2/64 10.0.0.2/24
[veth:a-b]
endpoints = a:eth0 b:eth0
[check:to-node]
from = a
to = b:80
protocol = tcp
[check:to-ip]
from = b
to = 10.0.0.1
max_loss = 50
count = 4
[check:to-stranger]
from = a
to = 192.0.2.99
expect = fail
[check:arp]
from = a
to = b
protocol = arp
answer = b:eth0
timeout = 3
`)
	nodes := map[string]kernel.NodeStatus{
		"a": {Node: "a", Interfaces: []kernel.Interface{{Name: "lo", MAC: "00:00:00:00:00:00"}, {Name: "eth0", MAC: "02:00:00:00:00:0a"}}},
		"b": {Node: "b", Interfaces: []kernel.Interface{{Name: "eth0", MAC: "02:00:00:00:00:0b"}}},
	}
	type got struct {
		From, Target, TargetNetns, Expect string
		Port                              uint16
		Count                             int
		MaxLoss                           float64
		Answer                            []check.AnswerSet
	}
	var gots []got
	for _, p := range planChecks(lab, lab.Checks, nodes, nodes) {
		if p.Err != "" {
			t.Errorf("check %s: %s", p.Spec.Name, p.Err)
		}
		gots = append(gots, got{p.Spec.FromNetns, p.Spec.Target.String(), p.Spec.TargetNetns, p.Spec.Expect,
			p.Spec.Port, p.Spec.Count, p.Spec.MaxLoss, p.Spec.Answer})
	}
	want := []got{
		// the first address not on lo, IPv6 included
		{From: "pc-a", Target: "2001:db8::2", TargetNetns: "pc-b", Expect: "pass", Port: 80, Count: 3},
		{From: "pc-b", Target: "10.0.0.1", TargetNetns: "pc-a", Expect: "pass", Count: 4, MaxLoss: 0.5},
		{From: "pc-a", Target: "192.0.2.99", Expect: "fail", Count: 3},
		// arp wants IPv4, and the answer set as the kernel names it
		{From: "pc-a", Target: "10.0.0.2", TargetNetns: "pc-b", Expect: "pass", Count: 3,
			Answer: []check.AnswerSet{{Name: "b:eth0", MACs: []net.HardwareAddr{mac("02:00:00:00:00:0b")}}}},
	}
	if diff := cmp.Diff(want, gots); diff != "" {
		t.Errorf("specs (-want +got):\n%s", diff)
	}
}

func loadString(t *testing.T, ini string) *compose.Lab {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lab.ini")
	if err := os.WriteFile(path, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	lab, err := compose.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return lab
}

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}
