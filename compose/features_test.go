package compose

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// What a lab needs depends on where it is built: a host's slice turns its
// cross-host veths into VXLAN tunnels; the lab as a whole needs both.
func TestFeaturesFor(t *testing.T) {
	lab, err := Build(loadFile(t, "../topologies/vxlan-overlay.ini"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, host string
		want       []string
	}{
		{"a slice needs vxlan for its tunnel, no veth", "m1", []string{"netns", "vxlan"}},
		{"the lab wherever it is built needs both", "", []string{"netns", "veth", "vxlan"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lab.FeaturesFor(tc.host)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("FeaturesFor(%q) (-want +got):\n%s", tc.host, d)
			}
		})
	}
	if _, err := lab.FeaturesFor("nosuch"); err == nil {
		t.Error("FeaturesFor(nosuch): no error")
	}
}
