package importer

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func sh(t *testing.T, script string) {
	t.Helper()
	if out, err := exec.Command("sh", "-ec", script).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s\n%s", err, script, out)
	}
}

// Read on namespaces built with ip: the veth between them is found from
// either side by the namespaces' numbers for each other, a vxlan device
// created in one and moved to the other gets that one's interface as its
// underlay, and what Read saw of the links is what ip -j shows.
func TestReadHandBuilt(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 to build the namespaces by hand")
	}
	b := make([]byte, 3)
	rand.Read(b)
	lab := "imp" + hex.EncodeToString(b)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", lab+"-u").Run()
		exec.Command("ip", "netns", "del", lab+"-h").Run()
	})
	sh(t, `
ip netns add `+lab+`-u
ip netns add `+lab+`-h
ip -n `+lab+`-u link set lo up
ip -n `+lab+`-h link set lo up
ip -n `+lab+`-u link add up0 type veth peer name down0 netns `+lab+`-h
ip -n `+lab+`-u addr add 203.0.113.1/24 dev up0
ip -n `+lab+`-u link set up0 up
ip -n `+lab+`-u link add vx7 type vxlan id 7 dstport 4789 local 203.0.113.1 remote 203.0.113.2 dev up0
ip -n `+lab+`-u link set vx7 netns `+lab+`-h
ip -n `+lab+`-h link set vx7 up
ip -n `+lab+`-h link set down0 up
`)
	name, sources, err := Sources("", []string{lab + "-u", lab + "-h"})
	if err != nil {
		t.Fatal(err)
	}
	if name != lab {
		t.Fatalf("lab %q, want %q", name, lab)
	}
	snap, err := Read(sources)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range snap.Nodes {
		out, err := exec.Command("ip", "-j", "-n", st.Netns, "link", "show").Output()
		if err != nil {
			t.Fatal(err)
		}
		var links []map[string]any
		if err := json.Unmarshal(out, &links); err != nil {
			t.Fatal(err)
		}
		if len(links) != len(st.Links) {
			t.Errorf("%s: Read saw %d links, ip -j link shows %d", st.Netns, len(st.Links), len(links))
		}
	}
	var w strings.Builder
	if err := Write(&w, Build(name, snap, BuildOptions{DeriveMACs: true}), "ini"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[veth:u-h]\nendpoints = u:up0 h:down0\n", "[vxlan:vx7]\nnetns = h\nvni = 7\nunderlay = u:up0\nlocal = 203.0.113.1\nremote = 203.0.113.2\n"} {
		if !strings.Contains(w.String(), want) {
			t.Errorf("file lacks\n%s\nin:\n%s", want, w.String())
		}
	}
	if strings.Contains(w.String(), "\n# not imported:") {
		t.Errorf("something was not imported:\n%s", w.String())
	}
}
