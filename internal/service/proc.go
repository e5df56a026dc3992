package service

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// defaultPath is searched when the environment has no PATH.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// proc is one run of a command: a process leading its own process group.
type proc struct {
	cmd    *exec.Cmd
	pid    int
	start  time.Time
	exited chan struct{} // closed once the leader is reaped and its group killed

	mu     sync.Mutex
	reaped bool
	err    error // cmd.Wait's, once exited
}

// spawn starts the command of cfg inside its namespace: the fork happens
// on a thread nsrun has switched into the namespace, and the child keeps
// it. Output goes line by line to log.
func spawn(cfg Config, log *lineLog) (*proc, error) {
	env := append(os.Environ(), cfg.Env...)
	dir := cfg.Workdir
	if dir == "" {
		dir = "/"
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("workdir: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("workdir %s: not a directory", dir)
	}
	path, err := lookPath(cfg.Command[0], dir, env)
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	cmd := &exec.Cmd{
		Path:   path,
		Args:   cfg.Command,
		Env:    env,
		Dir:    dir,
		Stdout: outW, // *os.File: handed to the child, no copying goroutine
		Stderr: errW,
		// Its own group, so that stop and exit reach its children too.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = nsrun.Do(cfg.Netns, cmd.Start)
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		if cmd.Process != nil {
			// nsrun could not switch its thread back, after the start.
			unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
			cmd.Wait()
		}
		return nil, fmt.Errorf("start %s in %s: %w", path, cfg.Netns, err)
	}
	p := &proc{cmd: cmd, pid: cmd.Process.Pid, start: time.Now(), exited: make(chan struct{})}
	go copyLines(outR, log, fmt.Sprintf("pid %d: ", p.pid))
	go copyLines(errR, log, fmt.Sprintf("pid %d stderr: ", p.pid))
	go p.reap()
	return p, nil
}

// reap waits for the leader to exit and, before reaping it, kills what is
// left of its group: while the leader is a zombie its group id cannot be
// taken by another process.
func (p *proc) reap() {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, p.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	unix.Kill(-p.pid, unix.SIGKILL)
	p.mu.Lock()
	p.err = p.cmd.Wait()
	p.reaped = true
	p.mu.Unlock()
	close(p.exited)
}

// signal sends sig to the whole process group, unless it has been reaped.
func (p *proc) signal(sig unix.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		unix.Kill(-p.pid, sig)
	}
}

// failed reports whether the run ended in failure: a non-zero status, a
// signal, or a wait error.
func (p *proc) failed() bool {
	return p.err != nil
}

// exitText describes how the run ended: "exit status 3", "signal: killed".
func (p *proc) exitText() string {
	if st := p.cmd.ProcessState; st != nil {
		return st.String()
	}
	return p.err.Error()
}

// lookPath finds name as exec would, with the service's own PATH and a
// relative path taken from dir, so that a missing program is an error at
// start rather than a silent restart loop.
func lookPath(name, dir string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := executable(p); err != nil {
			return "", fmt.Errorf("command %s: %w", name, err)
		}
		return p, nil
	}
	pathVar := defaultPath // a supervisor started with an empty environment
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v // the last one wins, as in exec
		}
	}
	for _, d := range filepath.SplitList(pathVar) {
		if d == "" {
			d = "."
		}
		p := filepath.Join(d, name)
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %s: %w (PATH=%s)", name, exec.ErrNotFound, pathVar)
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s: %w", p, fs.ErrPermission)
	}
	return nil
}

// copyLines writes r to log a line at a time; lines longer than the
// buffer are written in pieces.
func copyLines(r io.ReadCloser, log *lineLog, prefix string) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 16<<10)
	for {
		line, _, err := br.ReadLine()
		if len(line) > 0 || err == nil {
			log.line(prefix + strings.TrimSuffix(string(line), "\r"))
		}
		if err != nil {
			return
		}
	}
}

// signalNum maps "SIGTERM" (or "TERM") to its number; 0 if unknown.
func signalNum(name string) unix.Signal {
	name = strings.ToUpper(name)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	return unix.SignalNum(name)
}
