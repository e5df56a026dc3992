package loader_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/loader"
)

// BenchmarkLoadValidate1000 is what `netcompose validate` does with a lab of
// 1000 namespaces and 1000 veth links: load (DEFAULT, set, use,
// interpolation) and build the validated typed graph. Target: under 50 ms
// and 50 MB per op on the 2-core VM; BenchmarkLoad1000 is the load alone.
func BenchmarkLoadValidate1000(b *testing.B) {
	var s strings.Builder
	s.WriteString("[DEFAULT]\nlab = bench\nprefix = 10.42\nmtu = 1450\n\n[netns:hub]\nforwarding = on\n")
	for k := range 1000 {
		fmt.Fprintf(&s, "address.l%d = %%(prefix)s.%d.%d/30\n", k, k/64, k%64*4+1)
	}
	s.WriteString("\n")
	for k := range 1000 {
		fmt.Fprintf(&s, "[netns:n%d]\naddress.eth0 = %%(prefix)s.%d.%d/30\nroute = default via %%(prefix)s.%d.%d\nsysctl.net.ipv4.conf.all.rp_filter = 0\n\n",
			k, k/64, k%64*4+2, k/64, k%64*4+1)
		if k == 0 {
			s.WriteString("[veth:l0]\nendpoints = n0:eth0 hub:l0\nset mtu = 9000\n\n")
			continue
		}
		fmt.Fprintf(&s, "[veth:l%d]\nuse = l0\nendpoints = n%d:eth0 hub:l%d\n\n", k, k, k)
	}
	data := []byte(s.String())
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		f, err := loader.Parse("bench.ini", data)
		if err != nil {
			b.Fatal(err)
		}
		lab, err := compose.Build(f)
		if err != nil {
			b.Fatal(err)
		}
		if len(lab.Nodes) != 1001 || len(lab.Veths) != 1000 {
			b.Fatalf("%d nodes, %d veths", len(lab.Nodes), len(lab.Veths))
		}
	}
}
