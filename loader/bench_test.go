package loader

import (
	"fmt"
	"strings"
	"testing"
)

// lab1000 is a generated lab of 1000 namespaces and 1000 veth links to a
// hub, with a few DEFAULT globals, interpolation and a template.
func lab1000() []byte {
	var b strings.Builder
	b.WriteString("[DEFAULT]\nlab = bench\nprefix = 10.%(octet)s\noctet = 42\nmtu = 1450\n\n")
	b.WriteString("[netns:hub]\nforwarding = on\n\n")
	b.WriteString("[veth:tmpl]\nmtu_note = %(mtu)s\n\n")
	for k := range 1000 {
		fmt.Fprintf(&b, "[netns:n%d]\naddress.eth0 = %%(prefix)s.%d.%d/16\nroute = default via %%(prefix)s.0.1\n\t198.51.100.0/24 via %%(prefix)s.0.2\nsysctl.net.ipv4.conf.all.rp_filter = 0\n\n", k, k/250, k%250+1)
		fmt.Fprintf(&b, "[veth:l%d]\nuse = tmpl\nendpoints = n%d:eth0 hub:eth%d\nset mtu = 9000\ndesc = link %%(lab)s-%d\n\n", k, k, k, k)
	}
	return []byte(b.String())
}

func BenchmarkLoad1000(b *testing.B) {
	data := lab1000()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		f, err := Parse("bench.ini", data)
		if err != nil {
			b.Fatal(err)
		}
		if len(f.Sections) != 2002 {
			b.Fatalf("%d sections", len(f.Sections))
		}
	}
}
