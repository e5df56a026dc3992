package nfqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/supervisor"
	"github.com/netcompose/netcompose/loader"
)

func buildLab(t *testing.T, ini string) *compose.Lab {
	t.Helper()
	f, err := loader.Parse(filepath.Join(t.TempDir(), "lab.ini"), []byte(ini))
	if err != nil {
		t.Fatal(err)
	}
	lab, err := compose.Build(f)
	if err != nil {
		t.Fatal(err)
	}
	return lab
}

const pipelineLab = `
[DEFAULT]
lab = shop

[netns:fw]

[nfqueue:web]
netns = fw
protocol = tcp
dport = 80
queue = 2-3
fail = open
pipeline = guarded

[nfqueue:one]
netns = fw
pipeline = audit

[filter:audit]
use = builtin:log
prefix = fw

[filter:admin]
use = builtin:match
contains = GET /admin
regex = ^GET /(secret|private)

[filter:slow]
use = builtin:ratelimit
rate = 100
per = source

[filter:tag]
use = builtin:mark
mark = 0x2a
connmark = 7

[pipeline:checks]
pipeline = admin slow

[pipeline:guarded]
pipeline = audit checks tag
`

func TestConfigFrom(t *testing.T) {
	lab := buildLab(t, pipelineLab)
	got, err := ConfigFrom(lab, lab.NFQueues[0], "/run/netns/shop-fw")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Lab: "shop", Name: "web", NetNS: "/run/netns/shop-fw",
		QueueFirst: 2, QueueLast: 3, Fail: "open", Default: "accept",
		Stages: []Stage{
			{"audit", "log", map[string]string{"prefix": "fw"}},
			{"admin", "match", map[string]string{"contains": "GET /admin", "regex": "^GET /(secret|private)"}},
			{"slow", "ratelimit", map[string]string{"rate": "100", "per": "source"}},
			{"tag", "mark", map[string]string{"mark": "0x2a", "connmark": "7"}},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("config (-want +got):\n%s", d)
	}
	one, err := ConfigFrom(lab, lab.NFQueues[1], "/run/netns/shop-fw")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Stage{{"audit", "log", map[string]string{"prefix": "fw"}}}, one.Stages); d != "" {
		t.Errorf("a single filter as the pipeline (-want +got):\n%s", d)
	}
	if one.Fail != "closed" || one.QueueFirst != 0 || one.QueueLast != 0 {
		t.Errorf("defaults: fail %q queue %d-%d, want closed 0-0", one.Fail, one.QueueFirst, one.QueueLast)
	}
	// The config is a copy: the lab's filter args stay the lab's.
	got.Stages[0].Args["prefix"] = "changed"
	if lab.Filters[0].Args["prefix"] != "fw" {
		t.Errorf("ConfigFrom shares the lab's args map")
	}
}

func TestConfigFromAmbiguousName(t *testing.T) {
	lab := buildLab(t, `
[netns:fw]
[nfqueue:q]
netns = fw
pipeline = x
[filter:x]
use = builtin:accept
[pipeline:x]
pipeline = x2
[filter:x2]
use = builtin:drop
`)
	_, err := ConfigFrom(lab, lab.NFQueues[0], "/run/netns/fw")
	if err == nil || !strings.Contains(err.Error(), `"x" is both a [pipeline:] and a [filter:]`) {
		t.Errorf("ConfigFrom = %v, want the ambiguity named", err)
	}
}

// TestComposeValidatesFilterKeys: the keys the filters read are accepted
// by compose, and their values checked there, at the file's line.
func TestComposeValidatesFilterKeys(t *testing.T) {
	cases := []struct{ name, section, want string }{
		{"bad regex", "use = builtin:match\nregex = a(", "regex: error parsing regexp"},
		{"empty contains", "use = builtin:match\ncontains =", "contains: empty"},
		{"per other than source", "use = builtin:ratelimit\nrate = 5\nper = destination", `per: "destination"`},
		{"mark without marks", "use = builtin:mark", "mark: missing"},
		{"bad connmark", "use = builtin:mark\nconnmark = 1x", `connmark: "1x" is not a 32-bit number`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := loader.Parse(filepath.Join(t.TempDir(), "lab.ini"), []byte("[filter:f]\n"+c.section+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = compose.Build(f)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Build = %v, want an error with %q", err, c.want)
			}
		})
	}
	// And every key of every builtin is one compose accepts.
	lab := buildLab(t, pipelineLab)
	if _, err := ConfigFrom(lab, lab.NFQueues[0], "/run/netns/x"); err != nil {
		t.Errorf("a lab using regex, per and connmark: %v", err)
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	cases := []struct{ name, config, want string }{
		{"not json", `{`, "config:"},
		{"unknown field", `{"netns":"/run/netns/x","fail":"closed","queue":1}`, `unknown field "queue"`},
		{"relative netns", `{"netns":"x","fail":"closed"}`, "not an absolute path"},
		{"bad fail", `{"netns":"/x","fail":"maybe"}`, `fail: "maybe"`},
		{"bad default", `{"netns":"/x","fail":"open","default":"reject"}`, `default: "reject"`},
		{"reversed range", `{"netns":"/x","fail":"open","queue_first":5,"queue_last":4}`, "5-4 is not a range"},
		{"bad stage", `{"netns":"/x","fail":"open","stages":[{"name":"m","kind":"match","args":{"regex":"("}}]}`, "stage 1 (m): match: regex"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Start(context.Background(), json.RawMessage(c.config), supervisor.Env{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Start = %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestParseQueues(t *testing.T) {
	data := []byte("   50 123456     0 2 65535     0     0       17  1\n   51 123456     3 2 65535     7     2      400  1\n")
	got, err := parseQueues(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint16]kernelQueue{
		50: {portID: 123456},
		51: {portID: 123456, waiting: 3, queueDropped: 7, userDropped: 2},
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(kernelQueue{})); d != "" {
		t.Errorf("queues (-want +got):\n%s", d)
	}
	if _, err := parseQueues([]byte("50 1 2\n")); err == nil {
		t.Errorf("a short line parsed")
	}
}

func TestTransient(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{unix.ENOBUFS, true},
		{fmt.Errorf("receive: %w", unix.EINTR), true},
		{&netlink.OpError{Op: "receive", Err: unix.ENOMEM}, true},
		{unix.EBADF, false},
		{errors.New("use of closed file"), false},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestDocExample: the lab in docs/nfqueue.md builds, and resolves to the
// rules and stages the document describes.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/nfqueue.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```ini\n")
	ini, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no ```ini block in docs/nfqueue.md")
	}
	lab := buildLab(t, ini)
	cfg, err := ConfigFrom(lab, lab.NFQueues[0], "/run/netns/x")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, s := range cfg.Stages {
		kinds = append(kinds, s.Kind)
	}
	if d := cmp.Diff([]string{"log", "match", "ratelimit", "mark"}, kinds); d != "" {
		t.Errorf("stages (-want +got):\n%s", d)
	}
	rules, err := RulesFor(lab.Name, lab.NFQueues[0])
	if err != nil || len(rules) != 2 {
		t.Fatalf("RulesFor = %v, %v; want an ipv4 and an ipv6 rule", rules, err)
	}
	if got, want := rules[0].String(), "ipv4 -A NC-FWD-lab -p tcp -m tcp --dport 80 -m comment --comment netcompose:lab:web -j NFQUEUE --queue-num 0"; got != want {
		t.Errorf("rule\n got %s\nwant %s", got, want)
	}
}
