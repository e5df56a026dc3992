package supervisor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// LogLimit is the size in bytes past which a log file is renamed to
// NAME.1 (replacing the previous one) and a new file is started, so a
// component's logs never take more than about twice this. A variable so
// tests can make it small.
var LogLimit int64 = 1 << 20

// LogTimeFormat starts every line the supervisor writes: RFC 3339 with
// milliseconds, so lines of several files can be merged in time order.
const LogTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// maxChunk bounds what is written between two size checks: a component
// writing a huge line without a newline still cannot grow a file past
// LogLimit+maxChunk. A line longer than this is continued on a new,
// timestamped line.
const maxChunk = 16 << 10

// logFile is a log that prefixes every line with the time and rotates
// itself at LogLimit. It is safe for concurrent use.
type logFile struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	size    int64
	midLine bool // the last write ended without a newline
	// shared: another writer appends to the file too (the supervisor's
	// stderr, where the Go runtime writes a crash), so the size is read
	// back before each write.
	shared bool
	// rotated is called with the new file after a rotation.
	rotated func(*os.File)
}

func openLog(path string) (*logFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log %s: %w", path, err)
	}
	l := &logFile{path: path}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *logFile) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("log %s: open: %w", l.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("log %s: stat: %w", l.path, err)
	}
	l.f, l.size, l.midLine = f, fi.Size(), false
	return nil
}

// rotate renames the file to .1 and starts a new one.
func (l *logFile) rotate() error {
	l.f.Close()
	l.f = nil
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return fmt.Errorf("log %s: rotate: %w", l.path, err)
	}
	if err := l.open(); err != nil {
		return err
	}
	if l.rotated != nil {
		l.rotated(l.f)
	}
	return nil
}

// Write writes p, starting each line with the time.
func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, fmt.Errorf("log %s: %w", l.path, os.ErrClosed)
	}
	if l.shared {
		if fi, err := l.f.Stat(); err == nil {
			l.size = fi.Size()
		}
	}
	done := 0
	for done < len(p) {
		if l.size >= LogLimit {
			if err := l.rotate(); err != nil {
				if l.f == nil && l.open() != nil {
					return done, err
				}
			}
		}
		rest := p[done:]
		end := len(rest)
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			end = i + 1
		}
		end = min(end, maxChunk)
		var buf []byte
		if !l.midLine {
			buf = time.Now().AppendFormat(buf, LogTimeFormat)
			buf = append(buf, ' ')
		}
		buf = append(buf, rest[:end]...)
		// one write per line: O_APPEND keeps it whole next to the other
		// writer of a shared file
		n, err := l.f.Write(buf)
		l.size += int64(n)
		if err != nil {
			return done, fmt.Errorf("log %s: write: %w", l.path, err)
		}
		done += end
		l.midLine = rest[end-1] != '\n'
	}
	return done, nil
}

// Printf writes one line.
func (l *logFile) Printf(format string, args ...any) {
	fmt.Fprintf(l, format+"\n", args...)
}

// Close closes the file; later writes fail with os.ErrClosed (a component
// that outlives its stop must not crash the supervisor for it).
func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
