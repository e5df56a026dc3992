package compose

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
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

// Every lab that validates writes back out with config -o ini and -o
// yaml, and the output loads back to the same configuration (config -o
// json) and the same resources: the shipped labs, and labs that inherit
// from another file and override globals with set.
func TestConfigWritesBack(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"base.ini": `[DEFAULT]
jumbo = 9000
[veth:cable]
endpoints = a:eth0 b:eth0
get mtu = jumbo
[netns:host]
route = default via 10.0.0.254
`,
		"inherit-set.ini": `[DEFAULT]
lab = inh
mtu = 1400
[netns:a]
use = config:base.ini#host
address.eth0 = 10.0.0.1/24
[netns:b]
address.eth0 = 10.0.0.2/24
[veth:a-b]
use = config:base.ini#cable
set mtu = 1300
[bridge:br]
netns = b
set mtu = 1280
`,
		"get-set.yaml": `DEFAULT: {lab: gs, mtu: 1400, jumbo: 9000}
netns:a: {}
netns:b: {}
veth:a-b: {endpoints: a:eth0 b:eth0, get mtu: jumbo, set mtu: 1300}
`,
	}
	var paths []string
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if name != "base.ini" {
			paths = append(paths, p)
		}
	}
	shipped, _ := filepath.Glob("../topologies/*")
	paths = append(paths, shipped...)
	for _, p := range paths {
		f, lab, err := LoadFile(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, format := range []string{"ini", "yaml"} {
			t.Run(filepath.Base(p)+"->"+format, func(t *testing.T) {
				write := loader.WriteINI
				if format == "yaml" {
					write = loader.WriteYAML
				}
				var buf bytes.Buffer
				if err := write(&buf, f); err != nil {
					t.Fatalf("write: %v", err)
				}
				// The same base name: a lab without [DEFAULT] lab is
				// named after its file.
				out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))+"."+format)
				if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				f2, lab2, err := LoadFile(out)
				if err != nil {
					t.Fatalf("reload: %v\n%s", err, buf.String())
				}
				if diff := cmp.Diff(Config(f, lab), Config(f2, lab2)); diff != "" {
					t.Errorf("config (-file +written):\n%s\n%s", diff, buf.String())
				}
				if diff := cmp.Diff(lab.Resources(), lab2.Resources()); diff != "" {
					t.Errorf("resources (-file +written):\n%s", diff)
				}
			})
		}
	}
}
