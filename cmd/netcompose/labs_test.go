package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/check"
	"github.com/netcompose/netcompose/internal/labdir"
)

// labCase says, for one shipped lab, what to look at with iproute2 once it
// is applied, what the passing checks must show beyond "pass", and how to
// break it so that one named check fails for a reason naming the cause.
type labCase struct {
	// inspect checks the applied lab with `ip -j`, not with our code.
	inspect func(t *testing.T, lab string)
	// ttl: check name -> the reply TTL it must see (the path it proves).
	ttl map[string]int
	// breakIt damages the running lab by hand.
	breakIt func(t *testing.T, lab string)
	broken  string   // the check that must then fail
	reason  []string // words its reason must contain
}

var quickstartCase = labCase{
	inspect: func(t *testing.T, lab string) {
		if !hasAddr(ipJSON(t, lab+"-b", "addr", "show", "dev", "eth0"), "10.0.0.2", 24) {
			t.Errorf("ip -n %s-b addr: no 10.0.0.2/24 on eth0", lab)
		}
	},
	ttl: map[string]int{"a-to-b": 64},
	// a loses its subnet route: the reason must say so
	breakIt: func(t *testing.T, lab string) { ip(t, "-n", lab+"-a", "route", "del", "10.0.0.0/24", "dev", "eth0") },
	broken:  "a-to-b",
	reason:  []string{"network is unreachable", "no route"},
}

var labCases = map[string]labCase{
	"websocket-chat.ini": {
		inspect: func(t *testing.T, lab string) {
			out, err := exec.Command("ip", "netns", "exec", lab+"-chat", "ss", "-Hltn", "sport = 8080").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "LISTEN") {
				t.Errorf("ss in %s-chat: no listener on 8080: %v %s", lab, err, out)
			}
		},
		// alice loses her way out: her messages no longer reach the room
		breakIt: func(t *testing.T, lab string) { ip(t, "-n", lab+"-alice", "route", "del", "default") },
		broken:  "alice-to-bob",
		reason:  []string{"network is unreachable"},
	},
	"websocket-bridge.ini": {
		inspect: func(t *testing.T, lab string) {
			out, err := exec.Command("ip", "netns", "exec", lab+"-inside", "ss", "-Hltnp", "sport = 7").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "socat") {
				t.Errorf("ss in %s-inside: socat does not listen on 7: %v %s", lab, err, out)
			}
			found := false
			for _, r := range ipJSON(t, lab+"-fw", "-4", "rule", "show") {
				found = found || r["src"] == "10.92.1.0" && r["dst"] == "10.92.3.0" && r["action"] == "prohibit"
			}
			if !found {
				t.Errorf("ip -n %s-fw rule: no prohibit from 10.92.1.0/24 to 10.92.3.0/24", lab)
			}
		},
		// the firewall cuts the DMZ off the service too: the bridge
		// cannot reach its target and answers the handshake with 502
		breakIt: func(t *testing.T, lab string) {
			ip(t, "-n", lab+"-fw", "rule", "add", "from", "10.92.2.0/24", "to", "10.92.3.0/24", "prohibit")
		},
		broken: "client-via-bridge",
		reason: []string{"502 Bad Gateway", "no route to host"},
	},
	"nfqueue-http.ini": {
		inspect: func(t *testing.T, lab string) {
			// the seed's rule, as iptables itself shows it, in the
			// lab's chain that INPUT jumps to
			out := ip(t, "netns", "exec", lab+"-server", "iptables-save", "-t", "filter")
			for _, want := range []string{
				"-A INPUT -m comment --comment \"netcompose:" + lab + ":jump\" -j NC-IN-" + lab,
				"-A NC-IN-" + lab + " -p tcp -m tcp --dport 80 -m comment --comment \"netcompose:" + lab + ":http80\" -j NFQUEUE --queue-num 80",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("iptables-save in %s-server: no %q in\n%s", lab, want, out)
				}
			}
			// and a consumer bound to queue 80 in that namespace
			q := ip(t, "netns", "exec", lab+"-server", "cat", "/proc/net/netfilter/nfnetlink_queue")
			if f := strings.Fields(q); len(f) == 0 || f[0] != "80" {
				t.Errorf("%s-server nfnetlink_queue: no consumer of queue 80:\n%s", lab, q)
			}
		},
		ttl: map[string]int{"ping-server": 63},
		// the supervisor dies: fail = closed drops port 80, not ICMP
		breakIt: func(t *testing.T, lab string) {
			if err := exec.Command("pkill", "-9", "-f", "supervise --lab "+lab+"$").Run(); err != nil {
				t.Fatalf("pkill the supervisor: %v", err)
			}
		},
		broken: "plain-get",
		reason: []string{"no answer to GET"},
	},
	"vswitch-portgroups.ini": vswitchCase,
	"quickstart.ini":         quickstartCase,
	"quickstart.yaml":        quickstartCase,
	"proxy-arp-firewall.ini": {
		inspect: func(t *testing.T, lab string) {
			if !hasRoute(ipJSON(t, lab+"-firewall", "route", "show"), "192.0.2.20", "", "srv") {
				t.Errorf("ip -n %s-firewall route: no 192.0.2.20 dev srv", lab)
			}
			// the server is untouched: its only route is its subnet's
			routes := ipJSON(t, lab+"-server", "-4", "route", "show")
			if len(routes) != 1 || !hasRoute(routes, "192.0.2.0/24", "", "eth0") {
				t.Errorf("ip -n %s-server route: want only 192.0.2.0/24 dev eth0, got %v", lab, routes)
			}
		},
		// one hop: the firewall forwards, the reply's TTL drops by one
		ttl: map[string]int{"client-to-server": 63, "server-to-client": 63},
		breakIt: func(t *testing.T, lab string) {
			ip(t, "netns", "exec", lab+"-firewall", "sysctl", "-qw", "net.ipv4.conf.cli.proxy_arp=0")
		},
		broken: "arp-answered-by-firewall",
		reason: []string{"no ARP reply for 192.0.2.20", "want firewall:cli"},
	},
	"arp-multinic.ini": {
		inspect: func(t *testing.T, lab string) {
			if ports := ipJSON(t, lab+"-switch", "link", "show", "master", "br0"); len(ports) != 5 {
				t.Errorf("ip -n %s-switch link show master br0: %d ports, want 5", lab, len(ports))
			}
		},
		ttl: map[string]int{"ping-tuned": 64},
		breakIt: func(t *testing.T, lab string) {
			ip(t, "netns", "exec", lab+"-tuned", "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=0")
		},
		broken: "tuned-answers-once",
		reason: []string{"(tuned:eth1)", "want only tuned:eth0"},
	},
	"east-west.ini": {
		inspect: func(t *testing.T, lab string) {
			if !hasRoute(ipJSON(t, lab+"-web", "route", "show"), "10.2.0.0/24", "10.2.0.1", "eth0") {
				t.Errorf("ip -n %s-web route: no 10.2.0.0/24 via 10.2.0.1 dev eth0", lab)
			}
			// sec's port block is a policy-routing rule of netcompose's
			// protocol, ahead of the main table
			found := false
			for _, r := range ipJSON(t, lab+"-sec", "-4", "rule", "show") {
				if r["src"] == "10.2.0.10" && r["dst"] == "10.2.0.20" && r["ipproto"] == "tcp" &&
					fmt.Sprint(r["dport"]) == "22" && r["action"] == "prohibit" && r["protocol"] == "78" {
					found = true
				}
			}
			if !found {
				t.Errorf("ip -n %s-sec rule: no from 10.2.0.10 to 10.2.0.20 ipproto tcp dport 22 prohibit proto 78", lab)
			}
		},
		// neighbours on one segment, yet one hop apart: sec is in the path
		ttl:     map[string]int{"web-to-db": 63, "db-to-web": 63},
		breakIt: func(t *testing.T, lab string) { ip(t, "-n", lab+"-sec", "route", "del", "10.2.0.20/32") },
		broken:  "web-to-db",
		reason:  []string{"no reply from 10.2.0.20", "unreachable from 10.2.0.1"},
	},
}

// TestShippedLabs applies every single-host lab in topologies/ under a
// unique name, checks it with iproute2, runs its checks, breaks it and
// sees the right check fail, and destroys it without a trace. The
// vxlan-* labs are the VXLAN tests' business.
func TestShippedLabs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 for the independent checks")
	}
	files, err := filepath.Glob("../../topologies/*")
	if err != nil {
		t.Fatal(err)
	}
	suffix := make([]byte, 2)
	rand.Read(suffix)
	n := 0
	for _, file := range files {
		base := filepath.Base(file)
		if strings.HasPrefix(base, "vxlan-") || !(strings.HasSuffix(base, ".ini") || strings.HasSuffix(base, ".yaml")) {
			continue
		}
		lc, ok := labCases[base]
		if !ok {
			t.Errorf("%s: no case in labCases: say how to check and break it", base)
			continue
		}
		n++
		lab := fmt.Sprintf("lt%s%d", hex.EncodeToString(suffix), n)
		t.Run(base, func(t *testing.T) {
			t.Parallel()
			testShippedLab(t, file, lab, lc)
		})
	}
}

func testShippedLab(t *testing.T, file, lab string, lc labCase) {
	path := copyLab(t, file, lab)
	if missing := missingFeatures(t, path); missing != "" {
		t.Skipf("kernel lacks what the lab needs: %s", missing)
	}
	t.Cleanup(func() {
		// Only when the test stopped before its own destroy: destroying a
		// lab that is gone leaves its lock file behind.
		if _, err := os.Stat(filepath.Join(labdir.Root, lab, "state.json")); err != nil {
			return
		}
		if code := run([]string{"destroy", "--lab", lab}); code != 0 {
			t.Errorf("cleanup: destroy --lab %s: exit %d", lab, code)
		}
	})
	if code := run([]string{"apply", path}); code != 0 {
		t.Fatalf("apply %s: exit %d", path, code)
	}
	lc.inspect(t, lab)

	results, code := testResults(t, path)
	if code != 0 {
		t.Errorf("test: exit %d, want 0", code)
	}
	l, err := compose.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(l.Checks) || len(results) == 0 {
		t.Errorf("test: %d results for %d checks", len(results), len(l.Checks))
	}
	for _, r := range results {
		if !r.Pass {
			t.Errorf("check %s failed: %s", r.Name, r.Reason)
		}
		if want, ok := lc.ttl[r.Name]; ok && r.TTL != want {
			t.Errorf("check %s: reply ttl %d, want %d (%s)", r.Name, r.TTL, want, r.Reason)
		}
	}

	lc.breakIt(t, lab)
	results, code = testResults(t, path, lc.broken)
	if code != 1 {
		t.Errorf("test after breaking: exit %d, want 1", code)
	}
	if len(results) != 1 || results[0].Pass {
		t.Fatalf("test %s after breaking: want one failed result, got %+v", lc.broken, results)
	}
	for _, w := range lc.reason {
		if !strings.Contains(results[0].Reason, w) {
			t.Errorf("check %s after breaking: reason %q does not say %q", lc.broken, results[0].Reason, w)
		}
	}

	inodes := namespaceInodes(t, lab)
	if code := run([]string{"destroy", path}); code != 0 {
		t.Fatalf("destroy: exit %d", code)
	}
	assertGone(t, lab)
	if left := processesIn(inodes); len(left) > 0 {
		t.Errorf("processes left in the lab's namespaces after destroy: %v", left)
	}
}

// namespaceInodes is the nsfs inode of each of the lab's namespaces.
func namespaceInodes(t *testing.T, lab string) map[uint64]bool {
	t.Helper()
	m := map[uint64]bool{}
	paths, _ := filepath.Glob("/run/netns/" + lab + "-*")
	for _, p := range paths {
		var st syscall.Stat_t
		if syscall.Stat(p, &st) == nil {
			m[st.Ino] = true
		}
	}
	return m
}

// processesIn scans /proc for processes whose network namespace is one of
// inodes: an independent eye on "destroy leaves no process".
func processesIn(inodes map[uint64]bool) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	for _, p := range procs {
		var st syscall.Stat_t
		if syscall.Stat(p, &st) == nil && inodes[st.Ino] {
			cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(p)), "cmdline"))
			out = append(out, p+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}

// copyLab writes file to a temp dir with [DEFAULT] lab = name.
func copyLab(t *testing.T, file, name string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^(\s*lab\s*[=:]\s*)\S+\s*$`)
	if !re.Match(b) {
		t.Fatalf("%s: no lab = line to rename", file)
	}
	b = re.ReplaceAll(b, []byte("${1}"+name))
	path := filepath.Join(t.TempDir(), filepath.Base(file))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// testResults runs `netcompose test -o json FILE CHECK...` and decodes
// its results.
func testResults(t *testing.T, args ...string) ([]check.Result, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runTo(&out, &errOut, append([]string{"test", "-o", "json"}, args...))
	var results []check.Result
	if err := json.Unmarshal(out.Bytes(), &results); err != nil {
		t.Fatalf("test %v: exit %d, %v\nstdout: %s\nstderr: %s", args, code, err, out.String(), errOut.String())
	}
	return results, code
}

// runTo is run with the command's output captured.
func runTo(stdout, stderr *bytes.Buffer, args []string) int {
	cmd := newRootCmd(args...)
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.Execute()
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.err != nil {
			fmt.Fprintln(stderr, ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, err)
	return 1
}

func assertGone(t *testing.T, lab string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, lab+"-") {
			t.Errorf("namespace left behind: %s", line)
		}
	}
	if _, err := os.Stat(filepath.Join(labdir.Root, lab)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s/%s left behind (stat: %v)", labdir.Root, lab, err)
	}
}

func ip(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ipJSON runs `ip -j -n NS ARGS...` and decodes its array.
func ipJSON(t *testing.T, ns string, args ...string) []map[string]any {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-j", "-n", ns}, args...)...).Output()
	if err != nil {
		t.Fatalf("ip -j -n %s %s: %v", ns, strings.Join(args, " "), err)
	}
	var v []map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("ip -j -n %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
	return v
}

func hasAddr(links []map[string]any, local string, prefixlen float64) bool {
	for _, l := range links {
		infos, _ := l["addr_info"].([]any)
		for _, i := range infos {
			a, _ := i.(map[string]any)
			if a["local"] == local && a["prefixlen"] == prefixlen {
				return true
			}
		}
	}
	return false
}

func hasRoute(routes []map[string]any, dst, via, dev string) bool {
	for _, r := range routes {
		gw, _ := r["gateway"].(string)
		if r["dst"] == dst && gw == via && r["dev"] == dev {
			return true
		}
	}
	return false
}
