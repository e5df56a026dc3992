package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/labdir"
)

// killWait bounds the wait for processes to vanish after SIGKILL (a
// process in uninterruptible sleep dies when its syscall returns).
const killWait = 5 * time.Second

// Stop ends the lab's supervisor p and leaves no process behind: it asks
// for a shutdown (POST /shutdown, or SIGTERM when the socket does not
// answer for p), waits up to timeout for p to exit, then SIGKILLs it, and
// finally SIGKILLs what is left of its session (children its components
// left behind). A p already gone is not an error, and what its session
// still holds is killed all the same; a recycled PID that now names
// another process is left alone. When ctx ends, Stop stops waiting and
// kills at once: it never returns with p merely asked to go. It fails
// only if something survives SIGKILL.
func Stop(ctx context.Context, dir labdir.Dir, p Process, timeout time.Duration) error {
	if !Alive(p) {
		// Killed (-9) or crashed: what its components started may live
		// on in its session. With no process holding the PID (or only
		// its own zombie), a session of that ID can only be its (reap).
		st, err := readStat(p.PID)
		if p.PID > 0 && p.StartTime > 0 && (errors.Is(err, fs.ErrNotExist) || (err == nil && st.start == p.StartTime)) {
			return reap(dir, p, nil)
		}
		return nil
	}
	members := sessionMembers(p)
	if err := askShutdown(ctx, dir, p, min(timeout, 2*time.Second)); err != nil {
		if err := sendSignal(p, unix.SIGTERM); err != nil {
			return fmt.Errorf("supervisor %s: stop: %w", dir.Key, err)
		}
	}
	if !gone(ctx, timeout, p) {
		// Alive still, so the session is certainly its: list it again
		// for what was started since.
		members = append(members, sessionMembers(p)...)
		if err := sendSignal(p, unix.SIGKILL); err != nil {
			return fmt.Errorf("supervisor %s: stop: %w", dir.Key, err)
		}
	}
	return reap(dir, p, members)
}

// askShutdown posts /shutdown if the socket answers for p itself.
func askShutdown(ctx context.Context, dir labdir.Dir, p Process, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := Dial(dir)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if st.Process() != p {
		return fmt.Errorf("supervisor %s: the socket answers for pid %d, not %d", dir.Key, st.PID, p.PID)
	}
	return c.Shutdown(ctx)
}

// reap SIGKILLs whatever of p and its session is still alive and waits
// for it to vanish. The session outlives its leader while members
// remain, and its ID cannot be reused until they are gone, so members
// found after p has exited are still p's.
func reap(dir labdir.Dir, p Process, known []Process) error {
	deadline := time.Now().Add(killWait)
	for {
		left := known[:0:0]
		for _, m := range append(known, sessionMembers(p)...) {
			if Alive(m) {
				left = append(left, m)
			}
		}
		if Alive(p) {
			left = append(left, p)
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("supervisor %s: stop: pid %d: %d processes still alive after SIGKILL", dir.Key, p.PID, len(left))
		}
		for _, m := range left {
			_ = sendSignal(m, unix.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gone polls until p has exited, for at most timeout or until ctx ends.
func gone(ctx context.Context, timeout time.Duration, p Process) bool {
	deadline := time.Now().Add(timeout)
	for Alive(p) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
