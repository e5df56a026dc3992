package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Process names a process beyond its PID: PIDs are recycled, the pair
// (PID, start time) is not, so a record of our supervisor never leads us
// to signal a stranger that later got its number.
type Process struct {
	PID int `json:"pid"`
	// StartTime is field 22 of /proc/PID/stat: clock ticks after boot.
	StartTime uint64 `json:"start_time"`
}

// procStat is what we read from /proc/PID/stat.
type procStat struct {
	state   byte // R, S, D, Z (zombie), X (dead), ...
	pgrp    int
	session int
	start   uint64
}

// readStat parses /proc/PID/stat. The command name (field 2) may hold
// spaces and parentheses, so fields are counted after its last ')'.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, fmt.Errorf("process %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("process %d: stat: no command name", pid)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("process %d: stat: %d fields", pid, len(f)+2)
	}
	var st procStat
	st.state = f[0][0]
	if st.pgrp, err = strconv.Atoi(string(f[2])); err != nil {
		return procStat{}, fmt.Errorf("process %d: stat: pgrp: %w", pid, err)
	}
	if st.session, err = strconv.Atoi(string(f[3])); err != nil {
		return procStat{}, fmt.Errorf("process %d: stat: session: %w", pid, err)
	}
	if st.start, err = strconv.ParseUint(string(f[19]), 10, 64); err != nil {
		return procStat{}, fmt.Errorf("process %d: stat: start time: %w", pid, err)
	}
	return st, nil
}

// ProcessOf returns the running process pid as a Process.
func ProcessOf(pid int) (Process, error) {
	st, err := readStat(pid)
	if err != nil {
		return Process{}, err
	}
	return Process{PID: pid, StartTime: st.start}, nil
}

// Alive reports whether p still runs: its PID exists with the same start
// time and is not a zombie (a child its parent has not reaped yet has
// ended all the same). A killed process with threads is not over when
// its first thread is a zombie: the others may still be exiting, and
// the files they share (a supervisor's lock on its lab directory) are
// closed with the last of them. So it runs while any other thread of it
// is listed.
func Alive(p Process) bool {
	if p.PID <= 0 || p.StartTime == 0 {
		return false
	}
	st, err := readStat(p.PID)
	if err != nil || st.start != p.StartTime {
		return false
	}
	if st.state != 'Z' && st.state != 'X' {
		return true
	}
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(p.PID) + "/task")
	return err == nil && len(tasks) > 1
}

// sendSignal sends sig to p and to nothing else: a pidfd pins the process, and
// the start time is checked after it is opened, so a PID recycled in
// between is never signalled. A process already gone is not an error.
func sendSignal(p Process, sig unix.Signal) error {
	fd, err := unix.PidfdOpen(p.PID, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if errors.Is(err, unix.ENOSYS) { // kernels before 5.3: a small race remains
		if !Alive(p) {
			return nil
		}
		if err := unix.Kill(p.PID, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("process %d: %v: %w", p.PID, sig, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("process %d: pidfd: %w", p.PID, err)
	}
	defer unix.Close(fd)
	if !Alive(p) {
		return nil
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("process %d: %v: %w", p.PID, sig, err)
	}
	return nil
}

// sessionMembers lists the processes of leader's session other than the
// leader: what the supervisor's components started, and their children.
// Launch makes the supervisor a session leader, so its session ID is its
// PID; members started before the leader cannot be ours and are skipped.
func sessionMembers(leader Process) []Process {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []Process
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == leader.PID {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.session != leader.PID || st.start < leader.StartTime || st.state == 'Z' {
			continue
		}
		out = append(out, Process{PID: pid, StartTime: st.start})
	}
	return out
}
