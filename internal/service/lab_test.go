package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nsrun"
	"github.com/netcompose/netcompose/internal/supervisor"
)

var nsSeq atomic.Int32

// newNetns creates namespace svct-<pid>-<n> with lo up and returns its
// name. Its cleanup, which runs after the cleanups of everything started
// in it, fails the test if any process is still inside (and kills it),
// then deletes the namespace.
func newNetns(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	name := fmt.Sprintf("svct-%d-%d", os.Getpid(), nsSeq.Add(1))
	if err := nsrun.Create(name); err != nil {
		t.Fatal(err)
	}
	ino := inode(t, nsrun.Path(name))
	t.Cleanup(func() {
		if pids := pidsIn(ino); len(pids) > 0 {
			t.Errorf("processes left in %s: %v", name, pids)
			for _, p := range pids {
				unix.Kill(p, unix.SIGKILL)
			}
		}
		if err := nsrun.Delete(name); err != nil {
			t.Error(err)
		}
	})
	h := handle(t, name)
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	return name
}

func inode(t testing.TB, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// pidsIn lists the processes whose network namespace has inode ino, by
// reading /proc/*/ns/net: an eye independent of the code under test.
func pidsIn(ino uint64) []int {
	want := fmt.Sprintf("net:[%d]", ino)
	paths, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	var pids []int
	for _, p := range paths {
		if l, err := os.Readlink(p); err == nil && l == want {
			var pid int
			fmt.Sscanf(strings.TrimPrefix(p, "/proc/"), "%d", &pid)
			if pid != os.Getpid() {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func handle(t testing.TB, ns string) *netlink.Handle {
	t.Helper()
	nh, err := netns.GetFromPath(nsrun.Path(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	h, err := netlink.NewHandleAt(nh)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// pair makes namespaces srv (10.9.0.1/24) and cli (10.9.0.2/24) joined by
// a veth, eth0 on both sides.
func pair(t testing.TB) (srv, cli string) {
	t.Helper()
	srv, cli = newNetns(t), newNetns(t)
	nb, err := netns.GetFromPath(nsrun.Path(cli))
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	hs, hc := handle(t, srv), handle(t, cli)
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "eth0", PeerNamespace: netlink.NsFd(nb)}
	if err := hs.LinkAdd(v); err != nil {
		t.Fatalf("veth %s-%s: %v", srv, cli, err)
	}
	for _, x := range []struct {
		h    *netlink.Handle
		cidr string
	}{{hs, "10.9.0.1/24"}, {hc, "10.9.0.2/24"}} {
		l, err := x.h.LinkByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		a, _ := netlink.ParseAddr(x.cidr)
		a.Flags = unix.IFA_F_NODAD
		if err := x.h.AddrAdd(l, a); err != nil {
			t.Fatal(err)
		}
		if err := x.h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	// A SYN sent before the veth has carrier is lost and retried only
	// after a second: wait for both ends to be up.
	for _, h := range []*netlink.Handle{hs, hc} {
		waitFor(t, "eth0 carrier", func() bool {
			l, err := h.LinkByName("eth0")
			return err == nil && l.Attrs().OperState == netlink.OperUp
		})
	}
	return srv, cli
}

// recorder collects a service's log lines and events.
type recorder struct {
	mu     sync.Mutex
	lines  []string
	events []event
}

type event struct {
	kind string
	data map[string]any
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func (r *recorder) env() supervisor.Env {
	return supervisor.Env{Log: r, Event: func(kind string, data map[string]any) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.events = append(r.events, event{kind, data})
	}}
}

func (r *recorder) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// eventsOf returns the events of kind.
func (r *recorder) eventsOf(kind string) []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event
	for _, e := range r.events {
		if e.kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// start starts cfg as the supervisor would, through JSON, and stops it
// in t.Cleanup.
func start(t testing.TB, cfg Config) (supervisor.Running, *recorder) {
	t.Helper()
	rec := &recorder{}
	run, err := startJSON(cfg, rec.env())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := run.Stop(ctx); err != nil {
			t.Errorf("stop %s: %v", cfg.Name, err)
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", cfg.Name, rec.log())
		}
	})
	return run, rec
}

func startJSON(cfg Config, env supervisor.Env) (supervisor.Running, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return Start(context.Background(), raw, env)
}

// startFails starts cfg and wants it refused with an error wrapping is
// and containing msg; one that starts is stopped again.
func startFails(t *testing.T, cfg Config, is error, msg string) {
	t.Helper()
	run, err := startJSON(cfg, (&recorder{}).env())
	if err == nil {
		run.Stop(context.Background())
		t.Fatal("started")
	}
	if !errors.Is(err, is) || !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q; want one wrapping %v and containing %q", err, is, msg)
	}
}

func stats(r supervisor.Running) Stats { return r.Stats().(Stats) }

// client is an HTTP client whose connections start in namespace ns.
func client(ns string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialIn(ctx, nsrun.Path(ns), addr)
		},
		DisableKeepAlives: true,
	}}
}

// dial opens a websocket from namespace ns.
func dial(ctx context.Context, ns, url string, header http.Header) (*websocket.Conn, *http.Response, error) {
	return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client(ns), HTTPHeader: header})
}

func mustDial(t testing.TB, ns, url string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := dial(ctx, ns, url, nil)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", url, ns, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// listening reports whether `ss` in ns sees a TCP listener on addr.
func listening(t testing.TB, ns, addr string) bool {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "ss", "-Hltn").CombinedOutput()
	if err != nil {
		t.Fatalf("ss in %s: %v: %s", ns, err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) >= 4 && f[3] == addr {
			return true
		}
	}
	return false
}

// timeout is a context for one exchange in a test.
func timeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
