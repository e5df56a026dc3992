package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/labdir"
)

// The test binary is also the supervisor under test: Launch re-executes it
// with these variables set, and TestMain then runs Serve with the fake
// kinds instead of the tests. So every test talks to a real, detached
// process over its real socket.
const (
	envDaemon      = "SUPERVISOR_TEST_LAB" // the lab to serve
	envRoot        = "SUPERVISOR_TEST_ROOT"
	envStopTimeout = "SUPERVISOR_TEST_STOP_TIMEOUT"
	envLogLimit    = "SUPERVISOR_TEST_LOG_LIMIT"
)

func TestMain(m *testing.M) {
	if key := os.Getenv(envDaemon); key != "" {
		os.Exit(daemon(key))
	}
	os.Exit(m.Run())
}

// envLeaderExits makes the test binary a process whose first thread ends
// while another goes on (as when a killed process's threads exit one by
// one): the first thread is a zombie, the process is not over.
const envLeaderExits = "SUPERVISOR_TEST_LEADER_EXITS"

// The runtime runs package init on the main thread, the thread group
// leader.
func init() {
	if os.Getenv(envLeaderExits) != "" {
		leaderExits()
	}
}

func leaderExits() {
	// A goroutine on another thread keeps the process.
	go func() {
		time.Sleep(time.Minute)
		os.Exit(0)
	}()
	unix.RawSyscall(unix.SYS_EXIT, 0, 0, 0) // this thread only
}

func daemon(key string) int {
	labdir.Root = os.Getenv(envRoot)
	if d, err := time.ParseDuration(os.Getenv(envStopTimeout)); err == nil {
		StopTimeout = d
	}
	if n, err := strconv.ParseInt(os.Getenv(envLogLimit), 10, 64); err == nil {
		LogLimit = n
	}
	dir, err := labdir.For(key)
	if err == nil {
		err = Serve(context.Background(), dir, testKinds)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "test supervisor:", err)
		return 1
	}
	return 0
}

// testLab is a running test supervisor.
type testLab struct {
	t      *testing.T
	dir    labdir.Dir
	proc   Process
	client *Client
	env    []string
}

// newRoot points labdir.Root at a fresh directory under /tmp: short,
// since a socket path must fit in 108 bytes.
func newRoot(t *testing.T) {
	t.Helper()
	root, err := os.MkdirTemp("/tmp", "sv")
	if err != nil {
		t.Fatal(err)
	}
	old := labdir.Root
	labdir.Root = root
	t.Cleanup(func() {
		labdir.Root = old
		os.RemoveAll(root)
	})
}

// startLab launches a supervisor for lab "t" in a new root; env holds
// NAME=VALUE settings for it. The process is stopped (and killed if need
// be) when the test ends, however it ends.
func startLab(t *testing.T, env ...string) *testLab {
	t.Helper()
	newRoot(t)
	l := &testLab{t: t, dir: labdir.MustFor("t"), env: env}
	l.launch()
	return l
}

// launch starts (again) the lab's supervisor.
func (l *testLab) launch() {
	l.t.Helper()
	l.t.Setenv(envDaemon, l.dir.Key)
	l.t.Setenv(envRoot, labdir.Root)
	for i := 0; i+1 < len(l.env); i += 2 {
		l.t.Setenv(l.env[i], l.env[i+1])
	}
	exe, err := os.Executable()
	if err != nil {
		l.t.Fatal(err)
	}
	p, err := Launch(l.dir, exe)
	if err != nil {
		l.t.Fatalf("launch: %v\n%s", err, l.supervisorLog())
	}
	dir := l.dir
	l.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := Stop(ctx, dir, p, 3*time.Second); err != nil {
			l.t.Errorf("cleanup: %v", err)
		}
	})
	l.proc = p
	if l.client, err = Dial(l.dir); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(l.client.Close)
}

func (l *testLab) supervisorLog() string {
	b, _ := os.ReadFile(l.dir.SupervisorLog())
	return string(b)
}

func (l *testLab) apply(specs ...Spec) []Result {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := l.client.Apply(ctx, specs)
	if err != nil {
		l.t.Fatalf("apply: %v", err)
	}
	return res
}

func (l *testLab) status() Status {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := l.client.Status(ctx)
	if err != nil {
		l.t.Fatalf("status: %v", err)
	}
	return st
}

// component returns the status of kind.name, failing the test if absent.
func (l *testLab) component(id string) ComponentStatus {
	l.t.Helper()
	for _, c := range l.status().Components {
		if c.Kind+"."+c.Name == id {
			return c
		}
	}
	l.t.Fatalf("status has no component %s", id)
	return ComponentStatus{}
}

// stats decodes a component's fake stats.
func stats(t *testing.T, c ComponentStatus) fakeStats {
	t.Helper()
	var st fakeStats
	if err := json.Unmarshal(c.Stats, &st); err != nil {
		t.Fatalf("%s.%s: stats %s: %v", c.Kind, c.Name, c.Stats, err)
	}
	return st
}

// spec makes a Spec whose hash is its config's.
func spec(kind, name, config string) Spec {
	return Spec{Kind: kind, Name: name, Hash: Hash(json.RawMessage(config)), Config: json.RawMessage(config)}
}

// eventually polls cond until it holds, failing the test at the deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
