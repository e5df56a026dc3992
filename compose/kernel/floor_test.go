package kernel

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/nsrun"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The baselines the benchmark compares netcompose with: the same star lab
// built by raw netlink calls with no observe, diff, marks or state (the
// floor), and by the iproute2 script a user would write.

type starLink struct {
	leaf, hubIf, hubAddr, leafAddr string
}

func starLinks(n int) []starLink {
	var out []starLink
	for _, r := range star(n) {
		if r.Kind == compose.KindVeth {
			out = append(out, starLink{leaf: r.Attrs["b.node"], hubIf: r.Attrs["a.ifname"]})
		}
	}
	addrs := map[string]string{}
	for _, r := range star(n) {
		if r.Kind == compose.KindAddr {
			addrs[r.Node+"/"+strings.SplitN(r.Name, "/", 2)[0]] = strings.SplitN(r.Name, "/", 2)[1]
		}
	}
	for i := range out {
		out[i].hubAddr = addrs["hub/"+out[i].hubIf]
		out[i].leafAddr = addrs[out[i].leaf+"/eth0"]
	}
	return out
}

type floorNS struct {
	ns netns.NsHandle
	h  *netlink.Handle
}

func floorOpen(name string) (floorNS, error) {
	if err := nsrun.Create(name); err != nil {
		return floorNS{}, err
	}
	ns, err := netns.GetFromPath(nsrun.Path(name))
	if err != nil {
		return floorNS{}, err
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return floorNS{}, err
	}
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	return floorNS{ns, h}, err
}

func (f floorNS) close() { f.h.Close(); f.ns.Close() }

// floorApply builds the star lab with the fewest netlink calls, in the
// same phases as a plan (namespaces, links, addresses).
func floorApply(lab string, n int) error {
	hub, err := floorOpen(compose.NamespaceName(lab, "hub"))
	if err != nil {
		return err
	}
	defer hub.close()
	links := starLinks(n)
	leaves := make([]floorNS, len(links))
	defer func() {
		for _, l := range leaves {
			if l.h != nil {
				l.close()
			}
		}
	}()
	for i, l := range links {
		if leaves[i], err = floorOpen(compose.NamespaceName(lab, l.leaf)); err != nil {
			return err
		}
	}
	hubLinks := make([]netlink.Link, len(links))
	leafLinks := make([]netlink.Link, len(links))
	for i, l := range links {
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: l.hubIf, Flags: net.FlagUp, TxQLen: -1},
			PeerName: "eth0", PeerNamespace: netlink.NsFd(int(leaves[i].ns)), PeerTxQLen: -1}
		if err := hub.h.LinkAdd(v); err != nil {
			return err
		}
		if hubLinks[i], err = hub.h.LinkByName(l.hubIf); err != nil {
			return err
		}
		if leafLinks[i], err = leaves[i].h.LinkByName("eth0"); err != nil {
			return err
		}
		if err := leaves[i].h.LinkSetUp(leafLinks[i]); err != nil {
			return err
		}
	}
	for i, l := range links {
		a, _ := netlink.ParseAddr(l.hubAddr)
		if err := hub.h.AddrAdd(hubLinks[i], a); err != nil {
			return err
		}
		a, _ = netlink.ParseAddr(l.leafAddr)
		if err := leaves[i].h.AddrAdd(leafLinks[i], a); err != nil {
			return err
		}
	}
	return nil
}

// floorDestroy unmounts every namespace of the lab and waits for the
// kernel's teardown the way destroy does.
func floorDestroy(lab string) error {
	ents, err := os.ReadDir(nsrun.Dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), lab+"-") {
			if err := nsrun.Delete(e.Name()); err != nil {
				return err
			}
		}
	}
	return settle(context.Background(), lab)
}

// script is the iproute2 shell script a user would write for the star.
func script(lab string, n int) string {
	var b strings.Builder
	b.WriteString("set -e\n")
	hub := compose.NamespaceName(lab, "hub")
	fmt.Fprintf(&b, "ip netns add %s\nip -n %s link set lo up\n", hub, hub)
	for _, l := range starLinks(n) {
		ns := compose.NamespaceName(lab, l.leaf)
		fmt.Fprintf(&b, "ip netns add %s\nip -n %s link set lo up\n", ns, ns)
		fmt.Fprintf(&b, "ip -n %s link add %s type veth peer name eth0 netns %s\n", hub, l.hubIf, ns)
		fmt.Fprintf(&b, "ip -n %s addr add %s dev %s\nip -n %s link set %s up\n", hub, l.hubAddr, l.hubIf, hub, l.hubIf)
		fmt.Fprintf(&b, "ip -n %s addr add %s dev eth0\nip -n %s link set eth0 up\n", ns, l.leafAddr, ns)
	}
	return b.String()
}

// batchScript does the same with `ip -batch`: one ip process for the
// namespaces, one for the hub and one per leaf (a batch line cannot
// change namespace).
func batchScript(lab string, n int) string {
	var b strings.Builder
	hub := compose.NamespaceName(lab, "hub")
	links := starLinks(n)
	b.WriteString("set -e\nip -batch - <<EOF\n")
	fmt.Fprintf(&b, "netns add %s\n", hub)
	for _, l := range links {
		fmt.Fprintf(&b, "netns add %s\n", compose.NamespaceName(lab, l.leaf))
	}
	fmt.Fprintf(&b, "EOF\nip -n %s -batch - <<EOF\nlink set lo up\n", hub)
	for _, l := range links {
		fmt.Fprintf(&b, "link add %s type veth peer name eth0 netns %s\n", l.hubIf, compose.NamespaceName(lab, l.leaf))
		fmt.Fprintf(&b, "addr add %s dev %s\nlink set %s up\n", l.hubAddr, l.hubIf, l.hubIf)
	}
	b.WriteString("EOF\n")
	for _, l := range links {
		fmt.Fprintf(&b, "ip -n %s -batch - <<EOF\nlink set lo up\naddr add %s dev eth0\nlink set eth0 up\nEOF\n",
			compose.NamespaceName(lab, l.leaf), l.leafAddr)
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
