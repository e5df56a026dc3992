package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/labdir"
)

// ErrRunning is returned by Serve when the lab already has a live
// supervisor.
var ErrRunning = errors.New("supervisor already running")

// maxSocketPath is the room in sockaddr_un.sun_path, less its NUL.
const maxSocketPath = 107

// Serve runs the lab's supervisor until POST /shutdown, SIGTERM, SIGINT
// or the end of ctx; it then stops every component and returns nil. It
// returns an error when it cannot start (another supervisor answers on
// the socket, the socket cannot be made) or when serving fails.
func Serve(ctx context.Context, dir labdir.Dir, kinds map[string]StartFunc) error {
	if err := dir.Make(); err != nil {
		return err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	logf, err := openLog(dir.SupervisorLog())
	if err != nil {
		return fmt.Errorf("supervisor %s: %w", dir.Key, err)
	}
	defer logf.Close()
	followStderr(logf)
	me, err := self()
	if err != nil {
		return fmt.Errorf("supervisor %s: %w", dir.Key, err)
	}
	s := &supervisor{dir: dir, kinds: kinds, log: logf, hub: newHub(), self: me,
		started: time.Now(), comps: map[string]*component{}}
	s.base, s.cancel = context.WithCancel(context.Background())
	defer s.cancel()

	ln, err := listen(dir)
	if err != nil {
		logf.Printf("supervisor %s: %v", dir.Key, err)
		return err
	}
	defer os.Remove(dir.Socket()) // ours: the directory lock keeps others off it
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	quit := make(chan struct{})
	var once sync.Once
	srv := &http.Server{
		Handler:           s.routes(func() { once.Do(func() { close(quit) }) }),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute, // clients keep a connection between calls
		ErrorLog:          log.New(logf, "http: ", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logf.Printf("supervisor %s: started, pid %d, socket %s", dir.Key, me.PID, dir.Socket())

	var serveErr error
	select {
	case <-quit:
		logf.Printf("supervisor %s: shutdown requested", dir.Key)
	case sig := <-sigs:
		logf.Printf("supervisor %s: %v: shutting down", dir.Key, sig)
	case <-ctx.Done():
		logf.Printf("supervisor %s: %v: shutting down", dir.Key, ctx.Err())
	case err := <-served:
		serveErr = fmt.Errorf("supervisor %s: serve: %w", dir.Key, err)
		logf.Printf("%v: shutting down", serveErr)
	}
	s.hub.publish(Event{Kind: EventShutdown})
	s.shutdown()
	s.hub.close() // ends the event streams with a close frame
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logf.Printf("supervisor %s: close the socket: %v", dir.Key, err)
	}
	// Shutdown does not wait for hijacked connections: wait (a little)
	// for the streams to say goodbye, so subscribers see a clean close.
	// No stream starts after Shutdown has returned.
	streamsDone := make(chan struct{})
	go func() { s.streams.Wait(); close(streamsDone) }()
	select {
	case <-streamsDone:
	case <-time.After(2 * time.Second):
	}
	logf.Printf("supervisor %s: stopped", dir.Key)
	return serveErr
}

// lockDir takes an flock on the lab directory for the life of the
// process, so that two supervisors starting at once cannot both find the
// socket stale and remove each other's. The kernel drops it with the
// process, even on kill -9.
func lockDir(dir labdir.Dir) (func(), error) {
	f, err := os.Open(dir.Path)
	if err != nil {
		return nil, fmt.Errorf("supervisor %s: lock: %w", dir.Key, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("supervisor %s: %w", dir.Key, ErrRunning)
		}
		return nil, fmt.Errorf("supervisor %s: lock: %w", dir.Key, err)
	}
	return func() { f.Close() }, nil
}

// listen opens the control socket, mode 0600. A socket file nobody
// answers on is a dead supervisor's and is removed; one that answers is a
// live supervisor's (started without our lock, by an older netcompose)
// and is left alone.
func listen(dir labdir.Dir) (net.Listener, error) {
	path := dir.Socket()
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("supervisor %s: socket path %s: longer than %d bytes", dir.Key, path, maxSocketPath)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("supervisor %s: %w (it answers on %s)", dir.Key, ErrRunning, path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("supervisor %s: remove stale socket: %w", dir.Key, err)
	}
	// The umask makes the socket 0600 from birth: a chmod after bind would
	// leave a moment when anyone may connect. Nothing else of this process
	// creates files yet.
	old := unix.Umask(0o177)
	ln, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("supervisor %s: listen: %w", dir.Key, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("supervisor %s: chmod socket: %w", dir.Key, err)
	}
	return ln, nil
}

// followStderr keeps the process's stdout and stderr in the current
// supervisor log across rotations, when Launch pointed them at it: the Go
// runtime writes a crash there, and it belongs next to the last lines.
func followStderr(l *logFile) {
	l.shared = true
	var logSt unix.Stat_t
	if unix.Fstat(int(l.f.Fd()), &logSt) != nil {
		return
	}
	var fds []int
	for _, fd := range []int{1, 2} {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Dev == logSt.Dev && st.Ino == logSt.Ino {
			fds = append(fds, fd)
		}
	}
	l.rotated = func(f *os.File) {
		for _, fd := range fds {
			_ = unix.Dup3(int(f.Fd()), fd, 0)
		}
	}
}
