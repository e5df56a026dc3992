package kernel

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/netcompose/netcompose/bench/floor"
	"github.com/netcompose/netcompose/compose"
)

// The iproute2 baselines of the benchmark: the star as a shell script a
// user would write, and as `ip -batch` input. The raw-netlink floor is
// package bench/floor, which the end-to-end harness (bench/star) uses too.

// script is the iproute2 shell script a user would write for the star.
func script(lab string, n int) string {
	var b strings.Builder
	b.WriteString("set -e\n")
	hub := compose.NamespaceName(lab, "hub")
	fmt.Fprintf(&b, "ip netns add %s\nip -n %s link set lo up\n", hub, hub)
	for _, l := range floor.StarLinks(n) {
		ns := compose.NamespaceName(lab, l.Leaf)
		fmt.Fprintf(&b, "ip netns add %s\nip -n %s link set lo up\n", ns, ns)
		fmt.Fprintf(&b, "ip -n %s link add %s type veth peer name eth0 netns %s\n", hub, l.HubIf, ns)
		fmt.Fprintf(&b, "ip -n %s addr add %s dev %s\nip -n %s link set %s up\n", hub, l.HubAddr, l.HubIf, hub, l.HubIf)
		fmt.Fprintf(&b, "ip -n %s addr add %s dev eth0\nip -n %s link set eth0 up\n", ns, l.LeafAddr, ns)
	}
	return b.String()
}

// batchScript does the same with `ip -batch`: one ip process for the
// namespaces, one for the hub and one per leaf (a batch line cannot
// change namespace).
func batchScript(lab string, n int) string {
	var b strings.Builder
	hub := compose.NamespaceName(lab, "hub")
	links := floor.StarLinks(n)
	b.WriteString("set -e\nip -batch - <<EOF\n")
	fmt.Fprintf(&b, "netns add %s\n", hub)
	for _, l := range links {
		fmt.Fprintf(&b, "netns add %s\n", compose.NamespaceName(lab, l.Leaf))
	}
	fmt.Fprintf(&b, "EOF\nip -n %s -batch - <<EOF\nlink set lo up\n", hub)
	for _, l := range links {
		fmt.Fprintf(&b, "link add %s type veth peer name eth0 netns %s\n", l.HubIf, compose.NamespaceName(lab, l.Leaf))
		fmt.Fprintf(&b, "addr add %s dev %s\nlink set %s up\n", l.HubAddr, l.HubIf, l.HubIf)
	}
	b.WriteString("EOF\n")
	for _, l := range links {
		fmt.Fprintf(&b, "ip -n %s -batch - <<EOF\nlink set lo up\naddr add %s dev eth0\nlink set eth0 up\nEOF\n",
			compose.NamespaceName(lab, l.Leaf), l.LeafAddr)
	}
	return b.String()
}

func runScript(s string) error {
	f, err := os.CreateTemp("", "star-*.sh")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(s); err != nil {
		return err
	}
	f.Close()
	cmd := exec.Command("sh", f.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}
