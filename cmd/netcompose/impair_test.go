package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// The shipped WAN lab: netem on both ends of its WAN veth, seen with tc;
// its checks prove the delay (min_rtt), and fail, saying so, when one
// end's netem is deleted by hand. Kernels without netem skip it
// (missingFeatures); scripts/kernel-vm runs it under one that has.
func init() {
	labCases["wan-impairments.ini"] = labCase{
		inspect: func(t *testing.T, lab string) {
			for _, gw := range []string{"hq-gw", "branch-gw"} {
				q := tcRoot(t, lab+"-"+gw, "wan")
				if q["kind"] != "netem" || tcOption(q, "options.delay.delay") != 0.04 || tcOption(q, "options.loss-random.loss") != 0.01 {
					t.Errorf("tc -n %s-%s qdisc show dev wan: %v, want netem delay 40ms loss 1%%", lab, gw, q)
				}
			}
			if q := tcRoot(t, lab+"-hq", "eth0"); q != nil {
				t.Errorf("tc -n %s-hq qdisc show dev eth0: %v on a link the file does not impair", lab, q)
			}
		},
		ttl: map[string]int{"hq-to-branch": 62, "branch-to-hq": 62},
		// one end's netem deleted by hand: 40 ms round trips, not 80
		breakIt: func(t *testing.T, lab string) {
			if out, err := exec.Command("tc", "-n", lab+"-hq-gw", "qdisc", "del", "dev", "wan", "root").CombinedOutput(); err != nil {
				t.Fatalf("tc qdisc del: %v: %s", err, out)
			}
		},
		broken: "hq-to-branch",
		reason: []string{"rtt min 4", "want rtt min at least 80ms (min_rtt)"},
	}
}

// tcRoot is the root qdisc of dev in ns as `tc -j qdisc show` has it: nil
// when it is the kernel's default (handle 0:).
func tcRoot(t *testing.T, ns, dev string) map[string]any {
	t.Helper()
	out, err := exec.Command("tc", "-j", "-n", ns, "qdisc", "show", "dev", dev).Output()
	if err != nil {
		t.Fatalf("tc -j -n %s qdisc show dev %s: %v", ns, dev, err)
	}
	var qs []map[string]any
	if err := json.Unmarshal(out, &qs); err != nil {
		t.Fatalf("tc -j qdisc show: %v: %s", err, out)
	}
	for _, q := range qs {
		if q["root"] == true && q["handle"] != "0:" {
			return q
		}
	}
	return nil
}

// tcOption digs a number out of a tc JSON qdisc: "options.delay.delay".
func tcOption(q map[string]any, path string) float64 {
	var v any = q
	for _, k := range strings.Split(path, ".") {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	f, _ := v.(float64)
	return f
}
