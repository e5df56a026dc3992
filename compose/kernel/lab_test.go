package kernel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/netcompose/netcompose/compose"
)

// Helpers shared by the kernel tests and benchmarks.

func requireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("kernel tests need root (network namespaces, netlink)")
	}
}

// newLab returns a unique lab name and destroys the lab at the end, even
// when the test fails.
func newLab(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	lab := "t" + hex.EncodeToString(b)
	tb.Cleanup(func() {
		if err := destroy(lab); err != nil {
			tb.Errorf("cleanup: destroy %s: %v", lab, err)
		}
	})
	return lab
}

// converge is what `netcompose apply` does: observe, diff, apply.
func converge(lab string, desired []compose.Resource, opt ApplyOptions) (compose.Plan, error) {
	ctx := context.Background()
	actual, err := Observe(ctx, lab, desired)
	if err != nil {
		return compose.Plan{}, err
	}
	p := compose.Diff(lab, desired, actual)
	_, err = Apply(ctx, p, opt)
	return p, err
}

// destroy applies the empty lab.
func destroy(lab string) error {
	_, err := converge(lab, nil, ApplyOptions{})
	return err
}

func res(k compose.Kind, node, name string, kv ...string) compose.Resource {
	r := compose.Resource{Kind: k, Node: node, Name: name}
	if len(kv) > 0 {
		r.Attrs = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			r.Attrs[kv[i]] = kv[i+1]
		}
	}
	return r
}

func veth(name, an, ai, bn, bi, mtu string) compose.Resource {
	return res(compose.KindVeth, "", name, "a.node", an, "a.ifname", ai, "b.node", bn, "b.ifname", bi, "mtu", mtu)
}

// star is the benchmark lab: hub joined to n leaves by veth pairs, with an
// address on each end (10.H.L.1/30 in the hub side, .2 on the leaf).
func star(n int) []compose.Resource {
	rs := []compose.Resource{res(compose.KindNetns, "hub", "")}
	for i := range n {
		leaf := fmt.Sprintf("l%d", i)
		hubIf := fmt.Sprintf("h%d", i)
		o2, o3 := (i*4)>>8, (i*4)&0xff
		rs = append(rs,
			res(compose.KindNetns, leaf, ""),
			veth(leaf, "hub", hubIf, leaf, "eth0", "1500"),
			res(compose.KindAddr, "hub", fmt.Sprintf("%s/10.%d.%d.%d/30", hubIf, 100+o2/256, o2%256, o3+1)),
			res(compose.KindAddr, leaf, fmt.Sprintf("eth0/10.%d.%d.%d/30", 100+o2/256, o2%256, o3+2)),
		)
	}
	compose.Sort(rs)
	return rs
}

// ip runs iproute2 and fails the test on error.
func ip(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ipJSON runs `ip -j -n NS ARGS` and decodes the list it prints.
func ipJSON(tb testing.TB, ns string, args ...string) []map[string]any {
	tb.Helper()
	out := ip(tb, append([]string{"-j", "-d", "-n", ns}, args...)...)
	var v []map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		tb.Fatalf("ip -j -n %s %v: %v\n%s", ns, args, err, out)
	}
	return v
}

// namespaces lists `ip netns list` entries starting with prefix.
func namespaces(tb testing.TB, prefix string) []string {
	tb.Helper()
	var out []string
	for _, line := range strings.Split(ip(tb, "netns", "list"), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], prefix) {
			out = append(out, f[0])
		}
	}
	sort.Strings(out)
	return out
}

// planIDs summarises a plan as "action id" lines, cascades left out.
func planIDs(p compose.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		if !c.Cascade {
			out = append(out, string(c.Action)+" "+c.ID)
		}
	}
	sort.Strings(out)
	return out
}

func sysctl(tb testing.TB, ns, key string) string {
	tb.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-n", key).CombinedOutput()
	if err != nil {
		tb.Fatalf("sysctl %s in %s: %v\n%s", key, ns, err, out)
	}
	return strings.TrimSpace(string(out))
}

func isApplyError(err error) bool {
	var ae *ApplyError
	return errors.As(err, &ae)
}
