package nfqueue

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// TestTables installs, observes, heals and removes queue rules in a real
// namespace, with the system's iptables and, where installed, with
// iptables-legacy; iptables-save run by ip netns exec is the independent
// eye.
func TestTables(t *testing.T) {
	needRoot(t)
	variants := []struct {
		name   string
		tables Tables
		save   map[int]string
	}{
		{"default", DefaultTables, map[int]string{4: "iptables-save", 6: "ip6tables-save"}},
	}
	if _, err := exec.LookPath("iptables-legacy"); err == nil {
		variants = append(variants, struct {
			name   string
			tables Tables
			save   map[int]string
		}{"legacy", Tables{IPv4: "iptables-legacy", IPv6: "ip6tables-legacy"},
			map[int]string{4: "iptables-legacy-save", 6: "ip6tables-legacy-save"}})
	} else {
		t.Log("iptables-legacy not installed: testing the default iptables only")
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) { testTables(t, v.tables, v.save) })
	}
}

func testTables(t *testing.T, tables Tables, save map[int]string) {
	ns := fmt.Sprintf("nfqt-%d-%d", os.Getpid(), nsSeq.Add(1))
	if err := nsrun.Create(ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nsrun.Delete(ns) })
	path := nsrun.Path(ns)
	lab := ns
	iptCmd := map[int]string{4: tables.IPv4, 6: tables.IPv6}
	run := func(family int, args ...string) string {
		t.Helper()
		cmd := iptCmd[family]
		if strings.HasSuffix(args[0], "-save") {
			cmd, args = args[0], args[1:]
		}
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns, cmd}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", cmd, args, err, out)
		}
		return string(out)
	}
	// ruleLines is what iptables-save shows of the filter table: its -A
	// lines, the independent view of what is installed.
	saved := func(family int) []string {
		t.Helper()
		var out []string
		for _, ln := range strings.Split(run(family, save[family], "-t", "filter"), "\n") {
			if strings.HasPrefix(ln, "-A ") {
				out = append(out, ln)
			}
		}
		return out
	}
	observe := func() []Rule {
		t.Helper()
		rules, err := tables.ObserveRules(path, lab)
		if err != nil {
			t.Fatal(err)
		}
		return rules
	}
	sorted := cmpopts.SortSlices(func(a, b Rule) bool { return a.String() < b.String() })
	add := func(r Rule) {
		t.Helper()
		if err := tables.AddRule(path, r); err != nil {
			t.Fatal(err)
		}
	}

	// Someone else's rule, there before us; it must survive everything.
	run(4, "-A", "FORWARD", "-p", "tcp", "--dport", "22", "-j", "ACCEPT")

	web := Rule{Lab: lab, Name: "web", Family: 4, Chain: "forward", Protocol: "tcp",
		Source: netip.MustParsePrefix("192.0.2.0/24"), Dport: "80", QueueFirst: 3, QueueLast: 3}
	web6 := Rule{Lab: lab, Name: "web", Family: 6, Chain: "forward", Protocol: "tcp", Dport: "80", QueueFirst: 3, QueueLast: 3}
	ping := Rule{Lab: lab, Name: "ping", Family: 4, Chain: "input", Protocol: "icmp", In: "eth+", QueueFirst: 4, QueueLast: 5, Bypass: true}
	for _, r := range []Rule{web, web6, ping, web} { // the second web is a no-op
		add(r)
	}
	if d := cmp.Diff([]Rule{web, web6, ping}, observe(), sorted, prefixes); d != "" {
		t.Errorf("observed after add (-want +got):\n%s", d)
	}
	fwd, in := LabChain(lab, "forward"), LabChain(lab, "input")
	want4 := []string{
		fmt.Sprintf(`-A INPUT -m comment --comment "netcompose:%s:jump" -j %s`, lab, in),
		fmt.Sprintf(`-A FORWARD -m comment --comment "netcompose:%s:jump" -j %s`, lab, fwd),
		`-A FORWARD -p tcp -m tcp --dport 22 -j ACCEPT`,
		fmt.Sprintf(`-A %s -s 192.0.2.0/24 -p tcp -m tcp --dport 80 -m comment --comment "netcompose:%s:web" -j NFQUEUE --queue-num 3`, fwd, lab),
		fmt.Sprintf(`-A %s -i eth+ -p icmp -m comment --comment "netcompose:%s:ping" -j NFQUEUE --queue-balance 4:5 --queue-bypass`, in, lab),
	}
	if d := cmp.Diff(want4, unquoteComments(saved(4)), cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
		t.Errorf("iptables-save after add (-want +got):\n%s", d)
	}
	for _, hook := range []string{"INPUT", "FORWARD"} {
		i := slices.IndexFunc(saved(4), func(s string) bool { return strings.HasPrefix(s, "-A "+hook+" ") })
		if i < 0 || !strings.Contains(saved(4)[i], ":jump") {
			t.Errorf("the first rule of %s is not the lab's jump: %q", hook, saved(4))
		}
	}
	want6 := []string{
		fmt.Sprintf(`-A FORWARD -m comment --comment "netcompose:%s:jump" -j %s`, lab, fwd),
		fmt.Sprintf(`-A %s -p tcp -m tcp --dport 80 -m comment --comment "netcompose:%s:web" -j NFQUEUE --queue-num 3`, fwd, lab),
	}
	if d := cmp.Diff(want6, unquoteComments(saved(6))); d != "" {
		t.Errorf("ip6tables-save after add (-want +got):\n%s", d)
	}

	// A changed rule replaces the one of its name.
	web8080 := web
	web8080.Dport = "8080"
	add(web8080)
	if d := cmp.Diff([]Rule{web8080, web6, ping}, observe(), sorted, prefixes); d != "" {
		t.Errorf("observed after change (-want +got):\n%s", d)
	}
	if n := countContaining(saved(4), ":web"); n != 1 {
		t.Errorf("%d ipv4 web rules after the change, want 1", n)
	}

	// A rule moved to another hook leaves the old one's chain.
	web6in := web6
	web6in.Chain = "input"
	add(web6in)
	if d := cmp.Diff([]Rule{web8080, web6in, ping}, observe(), sorted, prefixes); d != "" {
		t.Errorf("observed after a move (-want +got):\n%s", d)
	}
	if got := run(6, save[6], "-t", "filter"); strings.Contains(got, fwd) {
		t.Errorf("ipv6 chain %s left behind after the move:\n%s", fwd, got)
	}
	add(web6)

	// Drift: a rule deleted by hand is observed missing, and AddRule
	// brings it back.
	run(4, "-D", fwd, "-s", "192.0.2.0/24", "-p", "tcp", "--dport", "8080", "-m", "comment", "--comment", "netcompose:"+lab+":web", "-j", "NFQUEUE", "--queue-num", "3")
	if d := cmp.Diff([]Rule{web6, ping}, observe(), sorted, prefixes); d != "" {
		t.Errorf("observed after a hand deletion (-want +got):\n%s", d)
	}
	add(web8080)
	// Drift: without its jump, the lab's forward chain is unreachable and
	// its rules are observed missing; AddRule restores the jump alone.
	run(4, "-D", "FORWARD", "-m", "comment", "--comment", "netcompose:"+lab+":jump", "-j", fwd)
	if d := cmp.Diff([]Rule{web6, ping}, observe(), sorted, prefixes); d != "" {
		t.Errorf("observed without the jump (-want +got):\n%s", d)
	}
	add(web8080)
	if d := cmp.Diff([]Rule{web8080, web6, ping}, observe(), sorted, prefixes); d != "" {
		t.Errorf("observed after healing (-want +got):\n%s", d)
	}
	if n := countContaining(saved(4), ":web"); n != 1 {
		t.Errorf("%d ipv4 web rules after healing, want 1", n)
	}

	// A rule without the lab's comment in the lab's chain is not the
	// lab's: observe ignores it, delete and remove keep it.
	run(4, "-A", in, "-p", "udp", "-j", "ACCEPT")
	if d := cmp.Diff([]Rule{web8080, web6, ping}, observe(), sorted, prefixes); d != "" {
		t.Errorf("observed with a foreign rule (-want +got):\n%s", d)
	}
	if err := tables.DeleteRule(path, ping); err != nil {
		t.Fatal(err)
	}
	// Deleting needs only the lab, family and name.
	if err := tables.DeleteRule(path, Rule{Lab: lab, Name: "web", Family: 6}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Rule{web8080}, observe(), sorted, prefixes); d != "" {
		t.Errorf("observed after delete (-want +got):\n%s", d)
	}
	if got := saved(6); len(got) != 0 {
		t.Errorf("ip6tables-save still shows %q; the empty chain and its jump should be gone", got)
	}
	if strings.Contains(run(6, save[6], "-t", "filter"), fwd) {
		t.Errorf("ipv6 chain %s still exists", fwd)
	}

	err := tables.RemoveChain(path, lab)
	if !errors.Is(err, errForeign) {
		t.Errorf("RemoveChain = %v, want the foreign rule reported", err)
	}
	if rules := observe(); len(rules) != 0 {
		t.Errorf("observed after RemoveChain: %v", rules)
	}
	want := []string{`-A FORWARD -p tcp -m tcp --dport 22 -j ACCEPT`, fmt.Sprintf(`-A %s -p udp -j ACCEPT`, in)}
	if d := cmp.Diff(want, saved(4)); d != "" {
		t.Errorf("iptables-save after RemoveChain (-want +got):\n%s", d)
	}
	// Once the foreign rule is gone, RemoveChain finishes the job; again is
	// a no-op.
	run(4, "-D", in, "-p", "udp", "-j", "ACCEPT")
	for range 2 {
		if err := tables.RemoveChain(path, lab); err != nil {
			t.Fatal(err)
		}
	}
	out := run(4, save[4], "-t", "filter")
	if strings.Contains(out, "NC-") || strings.Contains(out, "netcompose:") {
		t.Errorf("iptables-save after the last RemoveChain still shows the lab:\n%s", out)
	}
}

// unquoteComments makes iptables-save's spelling of a comment uniform:
// legacy quotes only comments with spaces, nft quotes every comment.
func unquoteComments(lines []string) []string {
	out := slices.Clone(lines)
	for i, ln := range out {
		if j := strings.Index(ln, "--comment "); j >= 0 {
			rest := ln[j+len("--comment "):]
			if !strings.HasPrefix(rest, `"`) {
				word, tail, _ := strings.Cut(rest, " ")
				out[i] = ln[:j] + `--comment "` + word + `" ` + tail
			}
		}
	}
	return out
}

func countContaining(lines []string, s string) int {
	n := 0
	for _, ln := range lines {
		if strings.Contains(ln, s) {
			n++
		}
	}
	return n
}

// TestSupported: the probe passes on this kernel (needRoot would have
// skipped otherwise) and names a missing iptables as unsupported,
// leaving no namespace behind.
func TestSupported(t *testing.T) {
	needRoot(t)
	if err := Supported(); err != nil {
		t.Fatal(err)
	}
	err := Tables{IPv4: "nfqt-no-such-iptables", IPv6: "ip6tables"}.Supported()
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "nfqt-no-such-iptables") {
		t.Errorf("Supported with a missing iptables = %v, want ErrUnsupported naming it", err)
	}
	entries, _ := os.ReadDir(nsrun.Dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), fmt.Sprintf("nfqprobe-%d-", os.Getpid())) {
			t.Errorf("probe namespace %s left behind", e.Name())
		}
	}
}
