package compose

import (
	"strings"
	"testing"
)

// A vxlan MTU above what its underlay can carry never converges: the
// kernel caps it on create and refuses it on change.
func TestVxlanMTUAboveUnderlay(t *testing.T) {
	const lab = `
[DEFAULT]
mtu = %s
[netns:a]
[netns:b]
[veth:ab]
endpoints = a:e0 b:e0
[vxlan:vx0]
netns = a
underlay = a:e0
vni = 7
local = %s
`
	tests := []struct {
		name, mtu, local, want string
	}{
		{"inherited jumbo mtu over a jumbo underlay", "9000", "10.0.0.1", "at most 8950"},
		{"ipv6 underlay costs 70", "1500", "2001:db8::1", "at most 1430"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(t, strings.Replace(strings.Replace(lab, "%s", tt.mtu, 1), "%s", tt.local, 1))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("build: %v, want an error saying %q", err, tt.want)
			}
		})
	}
	if _, err := build(t, strings.Replace(strings.Replace(lab, "%s", "9000", 1), "%s", "10.0.0.1", 1)+"set mtu = 8950\n"); err != nil {
		t.Errorf("mtu at the underlay's limit: %v", err)
	}
}
