package compose

import (
	"fmt"
	"strings"
	"testing"

	"github.com/netcompose/netcompose/loader"
)

// BenchmarkBuild1000 validates and lowers a star lab of 1000 leaves (1001
// namespaces, 1000 veths, an address on each end); the load itself is
// measured by loader's BenchmarkLoad1000.
func BenchmarkBuild1000(b *testing.B) {
	var s strings.Builder
	s.WriteString("[DEFAULT]\nlab = star\nmtu = 1500\n[netns:hub]\n")
	for i := range 1000 {
		fmt.Fprintf(&s, "address.l%d = 10.%d.%d.1/30\n", i, i/256, i%256)
	}
	for i := range 1000 {
		fmt.Fprintf(&s, "[netns:n%d]\naddress.eth0 = 10.%d.%d.2/30\nroute = default via 10.%d.%d.1\n", i, i/256, i%256, i/256, i%256)
		fmt.Fprintf(&s, "[veth:v%d]\nendpoints = n%d:eth0 hub:l%d\n", i, i, i)
	}
	f, err := loader.Parse("star.ini", []byte(s.String()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		lab, err := Build(f)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(lab.Resources()); n < 5000 {
			b.Fatalf("%d resources", n)
		}
	}
}
