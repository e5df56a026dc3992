package kmod

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// facts is what the files say about the running kernel, read once per Check.
type facts struct {
	builtin    map[string]bool   // module names from modules.builtin
	config     map[string]string // CONFIG_X -> "y", "m" or "n"
	configFrom string            // the config file that was read, "" if none
	notes      []string          // files that could not be read (other than not existing)
}

// readFacts reads modules.builtin and the first kernel config that exists.
// A missing file is normal (this is why there is a probe); a file that
// exists but cannot be read is noted for the report.
func (c *Checker) readFacts() facts {
	f := facts{builtin: map[string]bool{}, config: map[string]string{}}
	if c.ModulesDir != "" {
		p := filepath.Join(c.ModulesDir, "modules.builtin")
		if err := readBuiltin(p, f.builtin); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.notes = append(f.notes, fmt.Sprintf("%s: %v", p, err))
		}
	}
	for _, p := range c.ConfigFiles {
		err := readConfig(p, f.config)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			f.notes = append(f.notes, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		f.configFrom = p
		break
	}
	return f
}

// readBuiltin reads modules.builtin: one path per line,
// "kernel/drivers/net/veth.ko".
func readBuiltin(path string, into map[string]bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		into[moduleName(filepath.Base(line))] = true
	}
	return nil
}

// readConfig reads a kernel config (gzip-compressed when the name ends in
// .gz, as /proc/config.gz): "CONFIG_X=y", "CONFIG_X=m" and
// "# CONFIG_X is not set" (recorded as "n").
func readConfig(path string, into map[string]string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	var r io.Reader = fh
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(fh)
		if err != nil {
			return fmt.Errorf("gunzip: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Bytes()
		if k, ok := bytes.CutPrefix(line, []byte("# ")); ok {
			if name, ok := bytes.CutSuffix(k, []byte(" is not set")); ok {
				into[string(name)] = "n"
			}
			continue
		}
		if k, v, ok := bytes.Cut(line, []byte("=")); ok && bytes.HasPrefix(k, []byte("CONFIG_")) {
			into[string(k)] = string(v)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

// sysfsState says what /sys/module/NAME shows: "loaded" for a loaded
// module (it has an initstate file), "builtin" for built-in code that has
// parameters (the kernel lists those too, without initstate), "" when the
// directory does not exist.
func sysfsState(root, name string) (Source, error) {
	if root == "" {
		return "", nil
	}
	dir := filepath.Join(root, name)
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "initstate")); err == nil {
		return Loaded, nil
	}
	return Builtin, nil
}

// moduleName turns a file name or a user's spelling into the kernel's
// module name: no directory, no .ko (compressed or not), '-' as '_'.
func moduleName(s string) string {
	s = filepath.Base(s)
	if i := strings.Index(s, ".ko"); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "-", "_")
}
