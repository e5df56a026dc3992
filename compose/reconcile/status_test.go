package reconcile

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/netcompose/netcompose/compose"
)

// A node whose namespace is deleted by hand is listed as missing, and
// every change of the plan counts once: for its node, for the links, or
// for the processes.
func TestInspectMissingNodeAndDriftAddsUp(t *testing.T) {
	key := rootKey(t)
	lab := build(t, key, `
[netns:a]
address.eth0 = 10.81.3.1/24
[netns:b]
address.eth0 = 10.81.3.2/24
forwarding = on
[veth:a-b]
endpoints = a:eth0 b:eth0
[service:echo]
netns = b
use = builtin:websocket-echo
listen = 0.0.0.0:8080
`)
	fake := &fakeProcesses{key: key}
	tg := Target{Key: key, Lab: lab}
	t.Cleanup(func() { Run(context.Background(), Target{Key: key}, Options{Processes: fake}) })
	if _, err := Run(t.Context(), tg, Options{Processes: fake}); err != nil {
		t.Fatal(err)
	}

	st, err := Inspect(t.Context(), tg, Options{Processes: fake})
	if err != nil {
		t.Fatal(err)
	}
	if !st.InSync || len(st.Problems) > 0 || len(st.Nodes) != 2 || len(st.Links) != 1 {
		t.Fatalf("after apply: in sync %v, problems %v, %d nodes, links %v; want in sync, 2 nodes, 1 link", st.InSync, st.Problems, len(st.Nodes), st.Links)
	}
	if c := st.Processes.Components; len(c) != 1 || c[0].State != "running" || c[0].Node != "b" {
		t.Errorf("processes %+v, want service echo running in b", st.Processes)
	}

	if out, err := exec.Command("ip", "netns", "del", compose.NamespaceName(key, "a")).CombinedOutput(); err != nil {
		t.Fatalf("ip netns del: %v %s", err, out)
	}
	// The kernel tears the namespace down in the background: wait until
	// the veth's end in b is gone with it.
	for i := 0; i < 100; i++ {
		if exec.Command("ip", "-n", compose.NamespaceName(key, "b"), "link", "show", "eth0").Run() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	fake.running = nil
	st, err = Inspect(t.Context(), tg, Options{Processes: fake})
	if err != nil {
		t.Fatal(err)
	}
	if st.InSync {
		t.Fatal("in sync after a namespace was deleted by hand")
	}
	byNode := map[string]NodeStatus{}
	counted := len(st.LinkDrift)
	for _, n := range st.Nodes {
		byNode[n.Node] = n
		counted += len(n.Drift)
	}
	for _, c := range st.Drift.Changes {
		if c.Resource().Kind.Info().Held {
			counted++
		}
	}
	if counted != len(st.Drift.Changes) {
		t.Errorf("nodes, links and processes count %d changes, the plan has %d:\n%v", counted, len(st.Drift.Changes), st.Drift.Changes)
	}
	if a, ok := byNode["a"]; !ok || a.State != NodeMissing {
		t.Errorf("node a: %+v, want it listed as missing", a)
	}
	if byNode["b"].State != NodeDrifted {
		t.Errorf("node b: %s, want drifted (its veth end went with a)", byNode["b"].State)
	}
	if c := st.Processes.Components; len(c) != 1 || c[0].State != StateNotRunning {
		t.Errorf("processes %+v, want service echo not running", st.Processes)
	}
}
