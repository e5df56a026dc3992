package supervisor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/netcompose/netcompose/internal/labdir"
)

// LaunchTimeout bounds how long Launch waits for the new supervisor to
// answer on its socket.
var LaunchTimeout = 10 * time.Second

// Launch starts `exe args...` (netcompose supervise --lab KEY) detached
// from the caller: its own session, so no terminal signal reaches it and
// Stop can find what its components started; stdin /dev/null; stdout and
// stderr appended to the supervisor log; cwd "/", so it holds no
// directory busy. It returns once that process answers GET /status on the
// lab's socket, and fails if it exits first or stays silent past
// LaunchTimeout (it is then killed).
func Launch(dir labdir.Dir, exe string, args ...string) (Process, error) {
	if err := dir.Make(); err != nil {
		return Process{}, err
	}
	out, err := os.OpenFile(dir.SupervisorLog(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return Process{}, fmt.Errorf("supervisor %s: launch: %w", dir.Key, err)
	}
	defer out.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return Process{}, fmt.Errorf("supervisor %s: launch: %w", dir.Key, err)
	}
	defer null.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, out, out
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return Process{}, fmt.Errorf("supervisor %s: launch %s: %w", dir.Key, exe, err)
	}
	// Not yet reaped, so its /proc entry is there even if it died.
	p, err := ProcessOf(cmd.Process.Pid)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return Process{}, fmt.Errorf("supervisor %s: launch: %w", dir.Key, err)
	}
	// Reap it when it ends, for a caller that lives on (tests, a daemon);
	// a short-lived netcompose leaves that to init.
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := awaitSocket(dir, p, exited); err != nil {
		_ = reap(dir, p, nil) // SIGKILL, with anything it started
		return Process{}, err
	}
	return p, nil
}

// awaitSocket polls the socket until p itself answers: a supervisor that
// was already running answers too, with another pid.
func awaitSocket(dir labdir.Dir, p Process, exited <-chan error) error {
	deadline := time.Now().Add(LaunchTimeout)
	for {
		if c, err := Dial(dir); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := c.Status(ctx)
			cancel()
			c.Close()
			if err == nil && st.PID == p.PID {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("supervisor %s: exited at start (%v): see %s", dir.Key, err, dir.SupervisorLog())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("supervisor %s: pid %d: no answer on %s within %s", dir.Key, p.PID, dir.Socket(), LaunchTimeout)
		}
	}
}
