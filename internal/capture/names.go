package capture

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/netlinksafe"
)

// Names reads the MAC address of every link of the given namespaces
// (node name -> namespace path) and returns what each is called in the
// lab, "node:if", for a Summarizer: the kernel's MACs, not the file's, so
// a MAC changed by hand is still named. A namespace that cannot be read
// is left out; its error is returned with the names of the others.
func Names(namespaces map[string]string) (map[string]string, error) {
	out := map[string]string{}
	var firstErr error
	for node, path := range namespaces {
		if err := linkNames(node, path, out); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return out, firstErr
}

func linkNames(node, path string, out map[string]string) error {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("names: netns %s: %w", path, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("names: netns %s: netlink: %w", path, err)
	}
	defer h.Close()
	links, err := netlinksafe.Dump(h.LinkList)
	if err != nil {
		return fmt.Errorf("names: netns %s: links: %w", path, err)
	}
	for _, l := range links {
		a := l.Attrs()
		if len(a.HardwareAddr) != 6 || a.EncapType == "loopback" {
			continue
		}
		mac := a.HardwareAddr.String()
		if _, taken := out[mac]; !taken {
			out[mac] = node + ":" + a.Name
		}
	}
	return nil
}
