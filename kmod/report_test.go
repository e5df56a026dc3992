package kmod

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestWriteDoctorTable(t *testing.T) {
	c, _ := fakeKernel{
		builtin:   []string{"kernel/drivers/net/veth.ko"},
		config:    "CONFIG_BRIDGE=y\nCONFIG_NETFILTER_NETLINK_QUEUE=y\n# CONFIG_NETFILTER_XT_TARGET_NFQUEUE is not set\n",
		sysLoaded: []string{"dummy"},
		loadable:  map[string]bool{"vxlan": true},
		probes:    map[string]bool{"netns": true, "sysctl": true},
	}.checker(t)
	rep := c.Check(context.Background(),
		[]string{"netns", "veth", "bridge", "vxlan", "nfqueue", "sysctl"},
		[]Module{{Name: "dummy", Params: "numdummies=0"}, {Name: "sch_netem", Optional: true}})
	// The config path is in a temporary directory: name it the way the
	// real one is named so the golden file is stable.
	rep.ConfigFrom = "/proc/config.gz"
	var b bytes.Buffer
	rep.Write(&b)
	golden := filepath.Join("testdata", "doctor.golden")
	if *update {
		must(t, os.MkdirAll("testdata", 0o755))
		must(t, os.WriteFile(golden, b.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	must(t, err)
	if d := cmp.Diff(string(want), b.String()); d != "" {
		t.Errorf("doctor table (-want +got):\n%s", d)
	}
}
