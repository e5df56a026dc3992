package check

import (
	"encoding/json"
	"encoding/xml"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var sample = []Result{
	{Name: "ping server", Protocol: ICMP, From: "lab-client", Target: "10.0.0.2", Expect: ExpectPass, Pass: true,
		Reason: "3/3 replies from 10.0.0.2, rtt 120µs, ttl 64", RTT: 120 * time.Microsecond, Duration: 400 * time.Millisecond,
		Sent: 3, Received: 3, TTL: 64},
	{Name: "web blocked", Protocol: TCP, From: "lab-client", Target: "10.0.0.2:80", Expect: ExpectFail, Pass: false,
		Reason: "reachable, want blocked: connected to 10.0.0.2:80 in 1ms", RTT: time.Millisecond, Duration: 2 * time.Millisecond,
		Detail: "listener opened in lab-server for the check"},
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	if err := WriteTable(&b, sample); err != nil {
		t.Fatal(err)
	}
	want := `CHECK        PROTO  FROM        TARGET       EXPECT  RESULT  RTT    REASON
ping server  icmp   lab-client  10.0.0.2     pass    ok      120µs  3/3 replies from 10.0.0.2, rtt 120µs, ttl 64
web blocked  tcp    lab-client  10.0.0.2:80  fail    FAIL    1ms    reachable, want blocked: connected to 10.0.0.2:80 in 1ms
1/2 checks passed
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestWriteJSONRoundTrip(t *testing.T) {
	var b strings.Builder
	if err := WriteJSON(&b, sample); err != nil {
		t.Fatal(err)
	}
	var back []Result
	if err := json.Unmarshal([]byte(b.String()), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sample, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	for _, key := range []string{`"pass": false`, `"reason": "reachable, want blocked`, `"rtt_ns": 120000`} {
		if !strings.Contains(b.String(), key) {
			t.Errorf("json lacks %s:\n%s", key, b.String())
		}
	}
	b.Reset()
	WriteJSON(&b, nil)
	if b.String() != "[]\n" {
		t.Errorf("no results: %q, want []", b.String())
	}
}

func TestWriteJUnit(t *testing.T) {
	var b strings.Builder
	if err := WriteJUnit(&b, "quickstart", sample); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Class   string `xml:"classname,attr"`
			Time    string `xml:"time,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	}
	if err := xml.Unmarshal([]byte(b.String()), &got); err != nil {
		t.Fatalf("%v:\n%s", err, b.String())
	}
	if got.Name != "quickstart" || got.Tests != 2 || got.Failures != 1 {
		t.Errorf("suite %q tests %d failures %d, want quickstart 2 1", got.Name, got.Tests, got.Failures)
	}
	if len(got.Cases) != 2 || got.Cases[0].Failure != nil || got.Cases[1].Failure == nil ||
		got.Cases[1].Failure.Message != sample[1].Reason || got.Cases[0].Time != "0.400" || got.Cases[1].Class != "quickstart.tcp" {
		t.Errorf("cases wrong:\n%s", b.String())
	}
	if !strings.HasPrefix(b.String(), "<?xml") {
		t.Errorf("no XML header:\n%s", b.String())
	}
}

func TestAllPassed(t *testing.T) {
	if AllPassed(sample) || !AllPassed(sample[:1]) || !AllPassed(nil) {
		t.Error("AllPassed wrong")
	}
}

func TestValidate(t *testing.T) {
	ok := Spec{Name: "c", FromNetns: "lab-a", Protocol: TCP, Target: ip("10.0.0.1"), Port: 80}
	tests := []struct {
		name   string
		change func(*Spec)
		want   []string // fragments, in order; none means valid
	}{
		{"complete tcp spec is valid", func(*Spec) {}, nil},
		{"tcp without port", func(s *Spec) { s.Port = 0 }, []string{"tcp needs a port"}},
		{"unknown protocol", func(s *Spec) { s.Protocol = "sctp" }, []string{`unknown protocol "sctp"`}},
		{"arp over ipv6", func(s *Spec) { s.Protocol, s.Target = ARP, ip("2001:db8::1") }, []string{"arp needs an IPv4 target"}},
		{"every problem reported", func(s *Spec) { s.Name, s.FromNetns, s.Expect, s.MaxLoss = "", "", "maybe", 2 },
			[]string{"no name", "no from namespace", `unknown expect "maybe"`, "max loss 2 outside 0..1"}},
		{"missing target", func(s *Spec) { s.Target = netip.Addr{} }, []string{"no target address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.change(&s)
			err := s.Validate()
			if tt.want == nil {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %v", tt.want)
			}
			got := strings.Split(err.Error(), "\n")
			for i, frag := range tt.want {
				if i >= len(got) || !strings.Contains(got[i], frag) {
					t.Errorf("errors %q, want %q at %d", got, frag, i)
				}
			}
		})
	}
}
