package compose

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netcompose/netcompose/loader"
)

func TestConfig(t *testing.T) {
	f, err := loader.Parse("/labs/lab.ini", []byte(`
[DEFAULT]
lab = demo
mtu = 9000
owner = me
[netns:a]
address.eth0 = 10.0.0.1/24
[netns:b]
[veth:ab]
endpoints = a:eth0 b:eth0
[filter:log]
use = builtin:log
prefix = fw
`))
	if err != nil {
		t.Fatal(err)
	}
	lab, err := Build(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"DEFAULT":    {"lab": "demo", "mtu": "9000", "owner": "me"},
		"netns:a":    {"address.eth0": "10.0.0.1/24"},
		"netns:b":    {},
		"veth:ab":    {"endpoints": "a:eth0 b:eth0", "mtu": "9000"},
		"filter:log": {"use": "builtin:log", "prefix": "fw"},
	}
	if diff := cmp.Diff(want, Config(f, lab)); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	// Without a lab (an invalid file) only own values are listed.
	want["veth:ab"] = map[string]string{"endpoints": "a:eth0 b:eth0"}
	if diff := cmp.Diff(want, Config(f, nil)); diff != "" {
		t.Errorf("config without lab (-want +got):\n%s", diff)
	}
}
