package supervisor

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/labdir"
)

func TestStopEndsTheSupervisorAndWhatItsComponentsLeft(t *testing.T) {
	l := startLab(t)
	l.apply(spec("run", "a", `{"child":true}`))
	child := stats(t, l.component("run.a")).Child
	if !Alive(child) {
		t.Fatalf("run.a's child %+v is not running", child)
	}
	if err := Stop(t.Context(), l.dir, l.proc, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if Alive(l.proc) || Alive(child) {
		t.Errorf("after Stop: supervisor alive %v, the child its component left alive %v", Alive(l.proc), Alive(child))
	}
	log := l.supervisorLog()
	for _, want := range []string{"shutdown requested", "component run.a: stopped (shutdown)", "supervisor t: stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("supervisor log lacks %q: it did not shut down by itself:\n%s", want, log)
		}
	}
	if _, err := os.Stat(l.dir.Socket()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after a clean shutdown: %v", err)
	}
	if b, _ := os.ReadFile(mustLog(t, l.dir, "run.a")); !strings.Contains(string(b), "stopping") {
		t.Errorf("run.a was not stopped by the supervisor; its log:\n%s", b)
	}
}

func TestStopAfterKill9EndsWhatTheComponentsLeft(t *testing.T) {
	l := startLab(t)
	l.apply(spec("run", "a", `{"child":true}`))
	child := stats(t, l.component("run.a")).Child
	if err := sendSignal(l.proc, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the killed supervisor to be dead", func() bool { return !Alive(l.proc) })
	if !Alive(child) {
		t.Fatal("the component's child died with the supervisor: nothing left to prove")
	}
	if err := Stop(t.Context(), l.dir, l.proc, time.Second); err != nil {
		t.Fatal(err)
	}
	if Alive(child) {
		t.Error("Stop of a killed supervisor left its component's child running")
	}
}

func TestSIGTERMStopsComponentsAndExits(t *testing.T) {
	l := startLab(t)
	l.apply(spec("run", "a", `{}`))
	if err := sendSignal(l.proc, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the supervisor to exit", func() bool { return !Alive(l.proc) })
	log := l.supervisorLog()
	if !strings.Contains(log, "terminated: shutting down") || !strings.Contains(log, "component run.a: stopped (shutdown)") {
		t.Errorf("supervisor log does not show a shutdown on SIGTERM:\n%s", log)
	}
}

func TestStopEscalatesToSIGKILLAndLeavesNothing(t *testing.T) {
	// hang.h ignores Stop and the supervisor would wait an hour for it.
	l := startLab(t, envStopTimeout, "1h")
	l.apply(spec("hang", "h", `{"child":true}`))
	child := stats(t, l.component("hang.h")).Child
	if err := Stop(t.Context(), l.dir, l.proc, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if Alive(l.proc) || Alive(child) {
		t.Fatalf("after Stop: supervisor alive %v, component's child alive %v", Alive(l.proc), Alive(child))
	}
	if log := l.supervisorLog(); !strings.Contains(log, "shutdown requested") || strings.Contains(log, "supervisor t: stopped") {
		t.Errorf("want a shutdown requested but never finished (so SIGKILL ended it):\n%s", log)
	}
}

func TestAliveRejectsARecycledPID(t *testing.T) {
	newRoot(t)
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	p, err := ProcessOf(sleep.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	// The same PID with another start time: what a record of a dead
	// supervisor looks like once its PID went to a stranger.
	stranger := Process{PID: p.PID, StartTime: p.StartTime + 1}
	if !Alive(p) || Alive(stranger) || Alive(Process{}) {
		t.Fatalf("Alive: own %v (want true), other start time %v (want false), zero %v (want false)",
			Alive(p), Alive(stranger), Alive(Process{}))
	}
	if err := Stop(t.Context(), labdir.MustFor("t"), stranger, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if !Alive(p) {
		t.Fatal("Stop of a record whose start time differs signalled the process that now has the PID")
	}
	// A zombie (ended, not reaped) is not alive either.
	sleep.Process.Signal(syscall.SIGKILL)
	eventually(t, "the killed sleep to be dead", func() bool { return !Alive(p) })
	if st, err := readStat(p.PID); err != nil || st.state != 'Z' {
		t.Errorf("want the unreaped sleep to be a zombie: state %c, %v", st.state, err)
	}
}

func TestSocketIsPrivateAndServesOneSupervisor(t *testing.T) {
	l := startLab(t)
	fi, err := os.Stat(l.dir.Socket())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	if err := Serve(t.Context(), l.dir, testKinds); !errors.Is(err, ErrRunning) {
		t.Errorf("a second Serve for the lab: %v, want ErrRunning", err)
	}
	exe, _ := os.Executable()
	if _, err := Launch(l.dir, exe); err == nil || !strings.Contains(err.Error(), "exited at start") {
		t.Errorf("a second Launch for the lab: %v, want it to exit at start", err)
	}
	if st := l.status(); st.Process() != l.proc {
		t.Errorf("the socket answers for %+v, want the first supervisor %+v", st.Process(), l.proc)
	}

	// kill -9 leaves the socket file; the next supervisor replaces it.
	if err := sendSignal(l.proc, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the killed supervisor to be dead", func() bool { return !Alive(l.proc) })
	if _, err := os.Stat(l.dir.Socket()); err != nil {
		t.Fatalf("want the stale socket left by kill -9: %v", err)
	}
	old := l.proc
	l.launch()
	if st := l.status(); st.Process() == old || st.Process() != l.proc {
		t.Errorf("after relaunch the socket answers for %+v, want the new %+v", st.Process(), l.proc)
	}
}

func TestServeReturnsNilAfterAShutdownRequest(t *testing.T) {
	newRoot(t)
	dir := labdir.MustFor("t")
	done := make(chan error, 1)
	go func() { done <- Serve(context.Background(), dir, testKinds) }()
	var c *Client
	eventually(t, "the socket to answer", func() bool {
		var err error
		c, err = Dial(dir)
		return err == nil
	})
	defer c.Close()
	if err := c.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve after POST /shutdown: %v, want nil (exit 0)", err)
	}
}

func TestLaunchFailsWhenTheProcessExits(t *testing.T) {
	newRoot(t)
	_, err := Launch(labdir.MustFor("t"), "/bin/false")
	if err == nil || !strings.Contains(err.Error(), "exited at start") {
		t.Fatalf("Launch of /bin/false: %v, want exited at start", err)
	}
}

func mustLog(t *testing.T, dir labdir.Dir, component string) string {
	t.Helper()
	p, err := dir.Log(component)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAliveWhileThreadsRemain: a process whose first thread is a zombie
// while another thread runs is alive (its shared files, a supervisor's
// lock among them, are still open); killed, it is not.
func TestAliveWhileThreadsRemain(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envLeaderExits+"=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	p, err := ProcessOf(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first thread to be a zombie", func() bool {
		st, err := readStat(p.PID)
		return err == nil && st.state == 'Z'
	})
	if !Alive(p) {
		t.Errorf("Alive = false for a process whose other threads still run")
	}
	cmd.Process.Kill()
	cmd.Wait()
	if Alive(p) {
		t.Errorf("Alive = true after the process was killed and reaped")
	}
}
