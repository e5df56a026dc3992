package check

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestARPVerdict judges answer sets: every listed set answers, nothing
// else does; with expect = fail, none of them does.
func TestARPVerdict(t *testing.T) {
	m := func(s string) net.HardwareAddr {
		hw, err := net.ParseMAC(s)
		if err != nil {
			t.Fatal(err)
		}
		return hw
	}
	eth0 := AnswerSet{Name: "h:eth0", MACs: []net.HardwareAddr{m("02:00:00:00:00:01")}}
	eth1 := AnswerSet{Name: "h:eth1", MACs: []net.HardwareAddr{m("02:00:00:00:00:02")}}
	node := AnswerSet{Name: "h", MACs: append(eth0.MACs, eth1.MACs...)}
	both, one := []AnswerSet{eth0, eth1}, []AnswerSet{eth0}
	ans := func(macs ...string) []Answer {
		var a []Answer
		for _, x := range macs {
			a = append(a, Answer{MAC: x})
		}
		return a
	}
	src := arpSource{ifname: "eth0"}
	for _, tc := range []struct {
		name    string
		expect  string
		sets    []AnswerSet
		answers []Answer
		pass    bool
		reason  string
	}{
		{"both answer as listed", ExpectPass, both, ans("02:00:00:00:00:02", "02:00:00:00:00:01"), true, "answered by"},
		{"one of two is missing", ExpectPass, both, ans("02:00:00:00:00:01"), false, "h:eth1 did not answer"},
		{"an extra answer", ExpectPass, one, ans("02:00:00:00:00:01", "02:00:00:00:00:02"), false, "want only h:eth0"},
		{"missing and extra", ExpectPass, []AnswerSet{eth1}, ans("02:00:00:00:00:01"), false, "h:eth1 did not answer, 02:00:00:00:00:01 should not"},
		{"a node's set: any of its MACs", ExpectPass, []AnswerSet{node}, ans("02:00:00:00:00:02"), true, "answered by"},
		{"nobody answers", ExpectPass, one, nil, false, "no ARP reply for 10.0.0.2 on eth0 within 1s, want h:eth0"},
		{"any answer without a list", ExpectPass, nil, ans("02:00:00:00:00:09"), true, "answered by 02:00:00:00:00:09"},
		{"nobody answers, nobody listed", ExpectPass, nil, nil, false, "no ARP reply"},
		{"fail: listed one silent", ExpectFail, one, ans("02:00:00:00:00:02"), true, "not h:eth0 as expected"},
		{"fail: listed ones silent", ExpectFail, both, nil, true, "none of h:eth0 and h:eth1 as expected"},
		{"fail: listed one answers", ExpectFail, both, ans("02:00:00:00:00:02"), false, "want not h:eth1"},
		{"fail: nobody, nobody listed", ExpectFail, nil, nil, true, "as expected"},
		{"fail: somebody, nobody listed", ExpectFail, nil, ans("02:00:00:00:00:09"), false, "want no answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Spec{Target: ip("10.0.0.2"), Expect: tc.expect, Answer: tc.sets, Timeout: time.Second}
			pass, reason := arpVerdict(s, src, tc.answers, nil)
			if pass != tc.pass || !strings.Contains(reason, tc.reason) {
				t.Errorf("got %v %q, want %v and a reason with %q", pass, reason, tc.pass, tc.reason)
			}
		})
	}
}
