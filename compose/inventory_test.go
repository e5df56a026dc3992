package compose

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const twoHosts = `
[DEFAULT]
lab = two
[host:m1]
underlay = 192.0.2.1
[host:m2]
underlay = 192.0.2.2
[netns:n1]
host = m1
address.eth0 = 10.42.0.1/24
[netns:n2]
host = m2
address.eth0 = 10.42.0.2/24
[veth:segment]
endpoints = n1:eth0 n2:eth0
`

func TestInventory(t *testing.T) {
	three, err := Build(loadFile(t, "../topologies/vxlan-3hosts.ini"))
	if err != nil {
		t.Fatal(err)
	}
	two, err := build(t, twoHosts)
	if err != nil {
		t.Fatal(err)
	}
	noUnderlay, err := build(t, "[host:a]\n[host:b]\n[netns:x]\nhost = b\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		lab  *Lab
		opts InventoryOptions
		want *Inventory
	}{
		{
			name: "hosts in file order reached at their underlay",
			lab:  three,
			opts: InventoryOptions{LabFile: "/labs/vxlan-3hosts.ini"},
			want: &Inventory{Lab: "vx3", LabFile: "/labs/vxlan-3hosts.ini", Hosts: []InventoryHost{
				{Name: "m1", LabHost: "m1", Address: "192.0.2.1"},
				{Name: "m2", LabHost: "m2", Address: "192.0.2.2"},
				{Name: "m3", LabHost: "m3", Address: "192.0.2.3"},
			}},
		},
		{
			name: "set globals travel with the inventory",
			lab:  two,
			opts: InventoryOptions{LabFile: "/labs/lab.ini", Set: []string{"lab=blue"}},
			want: &Inventory{Lab: "two", LabFile: "/labs/lab.ini", Set: []string{"lab=blue"}, Hosts: []InventoryHost{
				{Name: "m1", LabHost: "m1", Address: "192.0.2.1"},
				{Name: "m2", LabHost: "m2", Address: "192.0.2.2"},
			}},
		},
		{
			name: "a renamed host leaves its address to the user's inventory",
			lab:  two,
			opts: InventoryOptions{Names: map[string]string{"m1": "web01"}},
			want: &Inventory{Lab: "two", Hosts: []InventoryHost{
				{Name: "web01", LabHost: "m1"},
				{Name: "m2", LabHost: "m2", Address: "192.0.2.2"},
			}},
		},
		{
			name: "an address replaces the underlay, renamed or not",
			lab:  two,
			opts: InventoryOptions{
				Names:     map[string]string{"m2": "db01"},
				Addresses: map[string]string{"m1": "mgmt1.example.net", "m2": "198.51.100.2"},
			},
			want: &Inventory{Lab: "two", Hosts: []InventoryHost{
				{Name: "m1", LabHost: "m1", Address: "mgmt1.example.net"},
				{Name: "db01", LabHost: "m2", Address: "198.51.100.2"},
			}},
		},
		{
			name: "a host without underlay has no address",
			lab:  noUnderlay,
			want: &Inventory{Lab: "lab", Hosts: []InventoryHost{
				{Name: "a", LabHost: "a"},
				{Name: "b", LabHost: "b"},
			}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.lab.Inventory(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("inventory (-want +got):\n%s", d)
			}
		})
	}
}

func TestInventoryErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		lab  string
		opts InventoryOptions
		want []string // each a line of the error
	}{
		{
			name: "a lab without hosts runs on one machine",
			lab:  "[netns:a]\n",
			opts: InventoryOptions{LabFile: "lab.ini"},
			want: []string{"lab lab declares no [host:] sections: it runs on one machine (netcompose apply lab.ini)"},
		},
		{
			name: "options name hosts the lab lacks, every one reported",
			lab:  twoHosts,
			opts: InventoryOptions{Names: map[string]string{"m9": "x"}, Addresses: map[string]string{"m7": "198.51.100.7"}},
			want: []string{
				"--name m9=x: lab two has no [host:m9] (hosts: m1, m2)",
				"--ansible-host m7=198.51.100.7: lab two has no [host:m7] (hosts: m1, m2)",
			},
		},
		{
			name: "two hosts onto one inventory name",
			lab:  twoHosts,
			opts: InventoryOptions{Names: map[string]string{"m1": "m2"}},
			want: []string{"[host:m1] and [host:m2] would both be m2 in the inventory: one machine applies one slice"},
		},
		{
			name: "a name an inventory cannot hold",
			lab:  twoHosts,
			opts: InventoryOptions{Names: map[string]string{"m1": "web 01", "m2": "db[1]"}},
			want: []string{
				`[host:m1]: inventory name "web 01": " " cannot be in a host name`,
				`[host:m2]: inventory name "db[1]": "[" cannot be in a host name`,
			},
		},
		{
			name: "a slice that cannot be built",
			lab:  strings.Replace(twoHosts, "underlay = 192.0.2.2\n", "", 1),
			want: []string{
				"link [veth:segment] crosses from host m1 to m2: both need underlay = IP",
				"link [veth:segment] crosses from host m2 to m1: both need underlay = IP",
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			lab, err := build(t, c.lab)
			if err != nil {
				t.Fatal(err)
			}
			_, err = lab.Inventory(c.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if d := cmp.Diff(c.want, strings.Split(err.Error(), "\n")); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
		})
	}
}
