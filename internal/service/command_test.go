package service

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/netcompose/netcompose/internal/nsrun"
	"github.com/netcompose/netcompose/internal/supervisor"
)

// sh is a command service running script with /bin/sh -c in ns, with
// quick back-off for tests.
func sh(name, ns, script string) Config {
	return Config{Name: name, Netns: nsrun.Path(ns), Command: []string{"/bin/sh", "-c", script},
		Backoff: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond}
}

// ended waits for a service to end on its own.
func ended(t *testing.T, run supervisor.Running) {
	t.Helper()
	select {
	case <-run.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("still running: %+v", stats(run))
	}
}

// TestCommandInNamespace: the command runs inside the node (its
// /proc/self/ns/net is the node's, and the kernel lists its pid there),
// with env and workdir applied and stdout and stderr in the log, line by
// line.
func TestCommandInNamespace(t *testing.T) {
	ns := newNetns(t)
	dir := t.TempDir()
	cfg := sh("probe", ns, `readlink /proc/self/ns/net; echo "greeting=$GREETING"; pwd; echo oops >&2; exec sleep 1000`)
	cfg.Env = []string{"GREETING=hello world"}
	cfg.Workdir = dir
	run, rec := start(t, cfg)
	want := []string{
		fmt.Sprintf("net:[%d]", inode(t, nsrun.Path(ns))),
		"greeting=hello world",
		dir,
		"stderr: oops",
	}
	waitFor(t, "the command's output", func() bool {
		for _, w := range want {
			if !strings.Contains(rec.log(), w) {
				return false
			}
		}
		return true
	})
	pid := stats(run).PID
	if pids := pidsIn(inode(t, nsrun.Path(ns))); len(pids) != 1 || pids[0] != pid {
		t.Errorf("processes in %s: %v, want only the service's pid %d", ns, pids, pid)
	}
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil || !strings.Contains(string(out), fmt.Sprint(pid)) {
		t.Errorf("ip netns pids %s: %q, %v; want %d", ns, out, err, pid)
	}
	if st := stats(run); st.State != StateRunning || st.Uptime <= 0 {
		t.Errorf("stats %+v, want running with an uptime", st)
	}
}

// TestCommandRestartPolicy: what each policy does with a clean exit and
// a failure, and how the service ends when it is not restarted.
func TestCommandRestartPolicy(t *testing.T) {
	ns := newNetns(t)
	tests := []struct {
		name, restart, script string
		restarts              bool
		state                 string // when it ends
		err                   string
	}{
		{"always restarts a clean exit", RestartAlways, "exit 0", true, "", ""},
		{"on-failure restarts a failure", RestartOnFailure, "exit 3", true, "", ""},
		{"on-failure restarts a crash", RestartOnFailure, "kill -SEGV $$", true, "", ""},
		{"on-failure leaves a clean exit", RestartOnFailure, "exit 0", false, StateExited, ""},
		{"never leaves a failure", RestartNever, "exit 3", false, StateFailed, "[service:never-leaves-a-failure]: command exit status 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := sh(strings.ReplaceAll(tt.name, " ", "-"), ns, tt.script)
			cfg.Restart = tt.restart
			run, rec := start(t, cfg)
			if tt.restarts {
				waitFor(t, "3 restarts", func() bool { return len(rec.eventsOf(EventRestart)) >= 3 })
				select {
				case <-run.Done():
					t.Fatalf("ended: %v", run.Err())
				default:
				}
				return
			}
			ended(t, run)
			st := stats(run)
			if st.State != tt.state || st.Restarts != 0 {
				t.Errorf("stats %+v, want %s without restarts", st, tt.state)
			}
			if got := fmt.Sprint(run.Err()); tt.err != "" && got != tt.err || tt.err == "" && run.Err() != nil {
				t.Errorf("Err() = %v, want %q", run.Err(), tt.err)
			}
		})
	}
}

// TestCommandBackoff: a crash loop waits twice as long after each quick
// failure, capped; the restarts and exits are counted and published.
func TestCommandBackoff(t *testing.T) {
	ns := newNetns(t)
	cfg := sh("crashy", ns, "echo crashing; exit 1")
	cfg.Backoff, cfg.BackoffMax = 10*time.Millisecond, 80*time.Millisecond
	run, rec := start(t, cfg)
	waitFor(t, "6 restarts", func() bool { return len(rec.eventsOf(EventRestart)) >= 6 })
	var got []string
	for _, e := range rec.eventsOf(EventRestart)[:6] {
		got = append(got, fmt.Sprint(e.data["backoff_ns"]))
		if e.data["exit"] != "exit status 1" {
			t.Errorf("restart event %v, want exit status 1", e.data)
		}
	}
	if want := "10ms 20ms 40ms 80ms 80ms 80ms"; strings.Join(got, " ") != want {
		t.Errorf("back-off %s, want %s", strings.Join(got, " "), want)
	}
	if st := stats(run); st.Restarts < 6 || st.LastExit != "exit status 1" {
		t.Errorf("stats %+v, want >= 6 restarts, last exit status 1", st)
	}
}

// TestCommandStop: stop_signal reaches the program (and its group);
// one that ignores it is killed after stop_timeout; children in the
// background are stopped too. The namespace cleanup proves nothing is
// left.
func TestCommandStop(t *testing.T) {
	ns := newNetns(t)
	tests := []struct {
		name, signal, script string
		exit                 string // LastExit after Stop
		log                  string
	}{
		{"stop signal honoured", "SIGINT", `trap 'echo got INT; exit 0' INT; echo re""ady; while :; do sleep 0.05; done`,
			"exit status 0", "got INT"},
		{"ignored signal escalates to SIGKILL", "SIGTERM", `trap '' TERM; echo re""ady; while :; do sleep 0.05; done`,
			"signal: killed", "after SIGTERM: SIGKILL"},
		{"background children stopped", "SIGTERM", `sleep 1000 & echo re""ady; wait`,
			"signal: terminated", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := sh(strings.ReplaceAll(tt.name, " ", "-"), ns, tt.script)
			cfg.StopSignal, cfg.StopTimeout = tt.signal, 300*time.Millisecond
			rec := &recorder{}
			run, err := startJSON(cfg, rec.env())
			if err != nil {
				t.Fatal(err)
			}
			// "ready" is not in the command line the log starts with.
			waitFor(t, "ready", func() bool { return strings.Contains(rec.log(), "ready") })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := run.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if st := stats(run); st.State != StateStopped || st.LastExit != tt.exit || run.Err() != nil {
				t.Errorf("stats %+v, err %v; want stopped, last exit %q, no error", st, run.Err(), tt.exit)
			}
			if !strings.Contains(rec.log(), tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, rec.log())
			}
			if pids := pidsIn(inode(t, nsrun.Path(ns))); len(pids) > 0 {
				t.Errorf("processes left in %s after Stop: %v", ns, pids)
			}
		})
	}
}

// TestCommandExitKillsGroup: when the program exits, what it left
// running in its process group is killed before it is restarted (or not).
func TestCommandExitKillsGroup(t *testing.T) {
	ns := newNetns(t)
	cfg := sh("leaver", ns, `sleep 1000 & exit 3`)
	cfg.Restart = RestartNever
	run, _ := start(t, cfg)
	ended(t, run)
	waitFor(t, "the namespace to be empty", func() bool { return len(pidsIn(inode(t, nsrun.Path(ns)))) == 0 })
}

// TestCommandStartErrors: a program that does not exist, a workdir that
// does not exist and a namespace that is gone stop Start with an error
// naming the section.
func TestCommandStartErrors(t *testing.T) {
	ns := newNetns(t)
	plain := t.TempDir() + "/plain"
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		is   error
		msg  string
	}{
		{"no such program in PATH", Config{Name: "ghost", Netns: nsrun.Path(ns), Command: []string{"no-such-program-svct"}},
			exec.ErrNotFound, "[service:ghost]: command no-such-program-svct: executable file not found in $PATH"},
		{"no such file", Config{Name: "path", Netns: nsrun.Path(ns), Command: []string{"/nonexistent/prog", "-x"}},
			fs.ErrNotExist, "[service:path]: command /nonexistent/prog: stat /nonexistent/prog"},
		{"not executable", Config{Name: "plain", Netns: nsrun.Path(ns), Command: []string{plain}},
			fs.ErrPermission, "[service:plain]: command " + plain},
		{"no workdir", Config{Name: "wd", Netns: nsrun.Path(ns), Command: []string{"/bin/true"}, Workdir: "/nonexistent"},
			fs.ErrNotExist, "[service:wd]: workdir: stat /nonexistent"},
		{"namespace gone", Config{Name: "orphan", Netns: nsrun.Path("svct-nonexistent"), Command: []string{"/bin/true"}},
			fs.ErrNotExist, "[service:orphan]: namespace /run/netns/svct-nonexistent does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			startFails(t, tt.cfg, tt.is, tt.msg)
		})
	}
}

// TestCommandRestartAfterStartFailure: a program that disappears while
// the service restarts it is retried with back-off, not fatal; it runs
// again once it is back.
func TestCommandRestartAfterStartFailure(t *testing.T) {
	ns := newNetns(t)
	prog := t.TempDir() + "/prog"
	if err := os.WriteFile(prog, []byte("#!/bin/sh\necho run\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	run, rec := start(t, Config{Name: "flaky", Netns: nsrun.Path(ns), Command: []string{prog},
		Backoff: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	waitFor(t, "a first run", func() bool { return strings.Contains(rec.log(), "run") })
	os.Rename(prog, prog+".away")
	waitFor(t, "a failed restart", func() bool { return strings.HasPrefix(stats(run).LastExit, "start failed: ") })
	os.Rename(prog+".away", prog)
	waitFor(t, "a run after the program came back", func() bool { return stats(run).LastExit == "exit status 1" })
}
