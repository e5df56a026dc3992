package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/netcompose/netcompose/internal/labdir"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned by Lock without waiting when another process holds
// the lab's lock.
var ErrLocked = errors.New("lab is locked by another netcompose process")

// Lock takes the lab's lock, an flock on /run/netcompose/<lab>/lock, so that
// one apply or destroy runs per lab at a time. Without wait it fails at once
// with ErrLocked; with wait it calls waiting (if not nil) once and blocks
// until the lock is free or ctx ends. The lock dies with the process.
func Lock(ctx context.Context, lab string, wait bool, waiting func()) (unlock func(), err error) {
	dir, err := labdir.For(lab)
	if err != nil {
		return nil, err
	}
	path := dir.Lock()
	told := false
	for {
		if err := dir.Make(); err != nil {
			return nil, fmt.Errorf("lock %s: %w", lab, err)
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", lab, err)
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			if !wait {
				return nil, fmt.Errorf("lock %s: %w", lab, ErrLocked)
			}
			if !told && waiting != nil {
				waiting()
			}
			told = true
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("lock %s: %w", lab, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", lab, err)
		}
		// Destroy removes the lab directory, lock file included, while it
		// holds the lock: if the file we locked is no longer the one at
		// path, our lock guards nothing; start over.
		var held, now unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) != nil || unix.Stat(path, &now) != nil ||
			held.Ino != now.Ino || held.Dev != now.Dev {
			f.Close()
			continue
		}
		return func() {
			// A lab without a state record (never applied, or destroyed)
			// leaves no directory behind. Waiters holding the old file
			// notice the change of inode above and start over.
			if _, err := os.Stat(dir.State()); errors.Is(err, os.ErrNotExist) {
				if _, err := os.Stat(journalPath(dir)); errors.Is(err, os.ErrNotExist) {
					os.Remove(path)
					os.Remove(dir.Path) // only if empty
				}
			}
			f.Close()
		}, nil
	}
}
