package filter

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	webGet   = spec{"192.0.2.1", "198.51.100.2", "tcp", 40000, 80, "GET / HTTP/1.0\r\n\r\n"}
	webAdmin = spec{"192.0.2.1", "198.51.100.2", "tcp", 40000, 80, "GET /admin HTTP/1.0\r\n\r\n"}
	dns      = spec{"192.0.2.7", "198.51.100.2", "udp", 5353, 53, "query"}
	ping     = spec{"192.0.2.1", "198.51.100.2", "icmp", 0, 0, "abc"}
	ping6    = spec{"2001:db8::1", "2001:db8::2", "icmpv6", 0, 0, "abc"}
)

func mustNew(t testing.TB, kind string, args map[string]string) Filter {
	t.Helper()
	f, err := New(kind, args, Env{})
	if err != nil {
		t.Fatalf("New(%s, %v): %v", kind, args, err)
	}
	return f
}

func TestJudge(t *testing.T) {
	type a = map[string]string
	cases := []struct {
		name string
		kind string
		args a
		in   spec
		want Verdict
	}{
		{"accept accepts", "accept", nil, ping, Accept},
		{"drop drops", "drop", nil, ping, Drop},
		{"count goes on", "count", nil, ping, Continue},
		{"mark goes on", "mark", a{"mark": "7"}, ping, Continue},
		{"log goes on", "log", nil, ping, Continue},
		{"match drops by default", "match", a{"protocol": "tcp"}, webGet, Drop},
		{"match other protocol goes on", "match", a{"protocol": "udp"}, webGet, Continue},
		{"match all protocols", "match", a{"protocol": "all"}, ping, Drop},
		{"match icmpv6", "match", a{"protocol": "icmpv6"}, ping6, Drop},
		{"match icmp is not icmpv6", "match", a{"protocol": "icmp"}, ping6, Continue},
		{"match source cidr", "match", a{"source": "192.0.2.0/24", "verdict": "accept"}, webGet, Accept},
		{"match source outside", "match", a{"source": "203.0.113.0/24"}, webGet, Continue},
		{"match destination address", "match", a{"destination": "198.51.100.2"}, webGet, Drop},
		{"match v4 cidr never matches v6", "match", a{"source": "0.0.0.0/0"}, ping6, Continue},
		{"match dport", "match", a{"dport": "80"}, webGet, Drop},
		{"match dport range", "match", a{"dport": "50:90"}, webGet, Drop},
		{"match dport dash range", "match", a{"dport": "81-90"}, webGet, Continue},
		{"match sport range", "match", a{"sport": "40000:40010"}, webGet, Drop},
		{"match port needs tcp or udp", "match", a{"dport": "1:65535"}, ping, Continue},
		{"match udp port", "match", a{"protocol": "udp", "dport": "53"}, dns, Drop},
		{"match contains hit", "match", a{"contains": "GET /admin"}, webAdmin, Drop},
		{"match contains miss", "match", a{"contains": "GET /admin"}, webGet, Continue},
		{"match regex hit", "match", a{"regex": `^GET /(admin|root)\b`}, webAdmin, Drop},
		{"match regex miss", "match", a{"regex": `^GET /(admin|root)\b`}, webGet, Continue},
		{"match all conditions must hold", "match", a{"protocol": "tcp", "dport": "80", "contains": "admin", "source": "203.0.113.0/24"}, webAdmin, Continue},
		{"match continue lets matching on", "match", a{"protocol": "tcp", "verdict": "continue"}, webGet, Continue},
		{"match continue sends others to the default", "match", a{"protocol": "udp", "verdict": "continue"}, webGet, Default},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := mustNew(t, c.kind, c.args)
			if got := f.Judge(decode(t, c.in)); got != c.want {
				t.Errorf("%s %v on %+v: got %v, want %v", c.kind, c.args, c.in, got, c.want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	type a = map[string]string
	cases := []struct {
		name, kind string
		args       a
		want       string // part of the error
	}{
		{"unknown kind", "firewall", nil, `unknown filter kind "firewall"`},
		{"unknown key", "accept", a{"verdict": "drop"}, "unknown keys verdict"},
		{"bad protocol", "match", a{"protocol": "sctp"}, `protocol: "sctp"`},
		{"bad cidr", "match", a{"source": "10.0.0.300/8"}, "source:"},
		{"bad port range", "match", a{"dport": "90:80"}, "dport:"},
		{"port zero", "match", a{"sport": "0"}, "sport:"},
		{"bad regex", "match", a{"regex": "a("}, "regex:"},
		{"empty contains", "match", a{"contains": ""}, "contains: empty"},
		{"bad verdict", "match", a{"verdict": "reject"}, `verdict: "reject"`},
		{"ratelimit without rate", "ratelimit", nil, "rate:"},
		{"ratelimit zero burst", "ratelimit", a{"rate": "10", "burst": "0"}, "burst:"},
		{"ratelimit per destination", "ratelimit", a{"rate": "10", "per": "destination"}, `per: "destination"`},
		{"mark without marks", "mark", nil, "missing mark or connmark"},
		{"mark too large", "mark", a{"mark": "0x100000000"}, "mark:"},
		{"connmark not a number", "mark", a{"connmark": "blue"}, "connmark:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.kind, c.args, Env{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New(%s, %v) = %v, want an error with %q", c.kind, c.args, err, c.want)
			}
		})
	}
}

func TestRatelimit(t *testing.T) {
	f := mustNew(t, "ratelimit", map[string]string{"rate": "10", "burst": "3"}).(*ratelimit)
	var now time.Duration
	f.now = func() time.Duration { return now }
	p := decode(t, ping)
	var got []Verdict
	for range 5 {
		got = append(got, f.Judge(p))
	}
	now += 200 * time.Millisecond // two tokens at 10/s
	for range 3 {
		got = append(got, f.Judge(p))
	}
	want := []Verdict{Continue, Continue, Continue, Drop, Drop, Continue, Continue, Drop}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("verdicts (-want +got):\n%s", d)
	}
}

func TestRatelimitPerSource(t *testing.T) {
	f := mustNew(t, "ratelimit", map[string]string{"rate": "1", "burst": "1", "per": "source"}).(*ratelimit)
	f.now = func() time.Duration { return 0 }
	a, b := decode(t, webGet), decode(t, dns) // 192.0.2.1 and 192.0.2.7
	got := []Verdict{f.Judge(a), f.Judge(a), f.Judge(b), f.Judge(b)}
	want := []Verdict{Continue, Drop, Continue, Drop}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("verdicts (-want +got):\n%s", d)
	}
}

func TestRatelimitSweepBoundsSources(t *testing.T) {
	f := mustNew(t, "ratelimit", map[string]string{"rate": "1", "per": "source"}).(*ratelimit)
	var now time.Duration
	f.now = func() time.Duration { return now }
	p := decode(t, ping)
	for i := range maxSources + 10 {
		p.Src = p.Src.Next()
		if i == maxSources/2 {
			now += time.Hour // the first half is idle by now
		}
		f.Judge(p)
	}
	if n := len(f.sources); n > maxSources {
		t.Errorf("%d sources kept, want at most %d", n, maxSources)
	}
}

func TestMarkSetsMarks(t *testing.T) {
	p := decode(t, ping)
	mustNew(t, "mark", map[string]string{"mark": "0x2a", "connmark": "7"}).Judge(p)
	m, sm, cm, scm := p.Marks()
	if m != 0x2a || !sm || cm != 7 || !scm {
		t.Errorf("marks = %d %v %d %v, want 42 true 7 true", m, sm, cm, scm)
	}
	p = decode(t, ping)
	mustNew(t, "mark", map[string]string{"connmark": "7"}).Judge(p)
	if _, sm, _, scm := p.Marks(); sm || !scm {
		t.Errorf("connmark only: setMark %v setConnMark %v, want false true", sm, scm)
	}
}

func TestCount(t *testing.T) {
	f := mustNew(t, "count", nil)
	p := decode(t, webGet)
	f.Judge(p)
	f.Judge(p)
	want := map[string]uint64{"packets": 2, "bytes": 2 * uint64(len(p.Data))}
	if d := cmp.Diff(want, f.(Counter).Counters()); d != "" {
		t.Errorf("counters (-want +got):\n%s", d)
	}
}

func TestLogLine(t *testing.T) {
	var out bytes.Buffer
	f, err := New("log", map[string]string{"prefix": `fw "1"`}, Env{Log: &out})
	if err != nil {
		t.Fatal(err)
	}
	f.(*logger).now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC) }
	c := NewChain([]Stage{{"log", "log", f}, {"deny", "drop", mustNew(t, "drop", nil)}}, Accept)
	p := decode(t, webGet)
	c.Run(p, nil)
	c.Run(decode(t, ping), nil)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), out.String())
	}
	var got []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		got = append(got, m)
	}
	want := []map[string]any{
		{"time": "2026-01-02T03:04:05.000000006Z", "prefix": `fw "1"`, "verdict": "drop", "proto": "tcp",
			"src": "192.0.2.1", "sport": 40000.0, "dst": "198.51.100.2", "dport": 80.0, "len": float64(len(p.Data))},
		{"time": "2026-01-02T03:04:05.000000006Z", "prefix": `fw "1"`, "verdict": "drop", "proto": "icmp",
			"src": "192.0.2.1", "dst": "198.51.100.2", "len": 31.0},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("log lines (-want +got):\n%s", d)
	}
}
