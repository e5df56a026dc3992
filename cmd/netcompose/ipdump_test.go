package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// ipdump NETNS... prints what iproute2 and sysctl(8) say of each
// namespace, one sorted line per fact, leaving out what differs between
// two builds of the same lab by nature: interface and namespace numbers
// (a veth's peer is named by namespace and interface instead), routes' and
// rules' protocol, the alias netcompose marks its links with, bridge
// timers, carrier, learned forwarding entries, which device a bridge's
// local forwarding entry is listed on. An import's round trip compares two such dumps.
func ipdump(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: ipdump NETNS...")
	}
	ipj := func(ns string, args ...string) []map[string]any {
		out, err := exec.Command("ip", append([]string{"-j", "-n", ns}, args...)...).Output()
		ts.Check(err)
		var v []map[string]any
		if len(strings.TrimSpace(string(out))) > 0 {
			ts.Check(json.Unmarshal(out, &v))
		}
		return v
	}
	// IPv6 duplicate address detection adds an address's local route
	// when it ends: wait for it (up to 5s), so that two dumps of one lab
	// do not differ by when they were taken.
	for _, ns := range args {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if len(ipj(ns, "addr", "show", "tentative")) == 0 {
				break
			}
		}
	}
	// names[ns][ifindex] and ids[ns][nsid], to name veth peers.
	names := map[string]map[float64]string{}
	ids := map[string]map[float64]string{}
	for _, ns := range args {
		names[ns] = map[float64]string{}
		for _, l := range ipj(ns, "link", "show") {
			names[ns][l["ifindex"].(float64)] = l["ifname"].(string)
		}
		ids[ns] = map[float64]string{}
		for _, n := range ipj(ns, "netns", "list-id") {
			if name, ok := n["name"].(string); ok {
				ids[ns][n["nsid"].(float64)] = name
			}
		}
	}
	var lines []string
	add := func(ns, kind string, v any) {
		b, err := json.Marshal(v)
		ts.Check(err)
		lines = append(lines, fmt.Sprintf("%s %s %s", ns, kind, b))
	}
	for _, ns := range args {
		for _, l := range ipj(ns, "-d", "link", "show") {
			add(ns, "link", dumpLink(ns, l, names, ids))
		}
		for _, a := range ipj(ns, "addr", "show") {
			for _, ai := range a["addr_info"].([]any) {
				ai := ai.(map[string]any)
				add(ns, "addr", map[string]any{"dev": a["ifname"], "local": ai["local"], "prefixlen": ai["prefixlen"], "scope": ai["scope"]})
			}
		}
		for _, fam := range []string{"-4", "-6"} {
			for _, r := range ipj(ns, fam, "route", "show", "table", "all") {
				delete(r, "protocol")
				delete(r, "flags") // "linkdown" while a carrier comes up
				add(ns, "route"+fam, r)
			}
			for _, r := range ipj(ns, fam, "rule", "show") {
				delete(r, "protocol")
				add(ns, "rule"+fam, r)
			}
		}
		for _, n := range ipj(ns, "neigh", "show", "nud", "permanent") {
			add(ns, "neigh", n)
		}
		out, err := exec.Command("bridge", "-j", "-n", ns, "fdb", "show").Output()
		ts.Check(err)
		var fdb []map[string]any
		ts.Check(json.Unmarshal(out, &fdb))
		for _, f := range fdb {
			if f["state"] == "permanent" || f["state"] == "static" || f["dst"] != nil {
				delete(f, "updated")
				delete(f, "used")
				if f["master"] != nil && f["state"] == "permanent" {
					// A bridge's local entry: for a MAC the bridge and a
					// port share, the kernel lists it on either.
					f["ifname"] = "(local)"
				}
				add(ns, "fdb", f)
			}
		}
		out, err = exec.Command("ip", "netns", "exec", ns, "sysctl", "-a", "-r", `^net\.`).Output()
		ts.Check(err)
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if k, _, _ := strings.Cut(l, " = "); volatileSysctl(k) {
				continue
			}
			lines = append(lines, ns+" sysctl "+l)
		}
	}
	sort.Strings(lines)
	fmt.Fprintln(ts.Stdout(), strings.Join(lines, "\n"))
}

// dumpLink is what of a link two builds share.
func dumpLink(ns string, l map[string]any, names map[string]map[float64]string, ids map[string]map[float64]string) map[string]any {
	var flags []string
	for _, f := range l["flags"].([]any) {
		if f != "LOWER_UP" && f != "NO-CARRIER" && f != "M-DOWN" {
			flags = append(flags, f.(string))
		}
	}
	slices.Sort(flags)
	out := map[string]any{"ifname": l["ifname"], "flags": flags, "mtu": l["mtu"], "address": l["address"], "master": l["master"], "link_type": l["link_type"]}
	info, _ := l["linkinfo"].(map[string]any)
	if info == nil {
		return out
	}
	kind := info["info_kind"]
	out["kind"] = kind
	data, _ := info["info_data"].(map[string]any)
	switch kind {
	case "veth":
		peerNS := ns
		if id, ok := l["link_netnsid"].(float64); ok {
			peerNS = ids[ns][id]
		}
		if idx, ok := l["link_index"].(float64); ok {
			out["peer"] = peerNS + ":" + names[peerNS][idx]
		}
	case "vxlan":
		out["vxlan"] = data
	case "bridge":
		keep := map[string]any{}
		for _, k := range []string{"stp_state", "vlan_filtering", "ageing_time", "mcast_snooping", "forward_delay", "hello_time", "max_age", "priority"} {
			keep[k] = data[k]
		}
		out["bridge"] = keep
	}
	return out
}

// volatileSysctl are sysctls that change by themselves: counters, keys
// made at random, and values that cannot be read.
func volatileSysctl(k string) bool {
	for _, s := range []string{"nf_conntrack_count", "stable_secret", "tcp_fastopen_key", "netdev_rss_key"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
