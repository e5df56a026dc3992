package kmod

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// facts is what the files say about the running kernel, read once per Check.
type facts struct {
	builtin    map[string]bool // module names from modules.builtin
	config     kconfig         // the kernel config's text
	configFrom string          // the config file that was read, "" if none
	notes      []string        // files that could not be read (other than not existing)
}

// readFacts reads modules.builtin and the first kernel config that exists.
// A missing file is normal (this is why there is a probe); a file that
// exists but cannot be read is noted for the report.
func (c *Checker) readFacts() facts {
	f := facts{builtin: map[string]bool{}}
	if c.ModulesDir != "" {
		p := filepath.Join(c.ModulesDir, "modules.builtin")
		if err := readBuiltin(p, f.builtin); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.notes = append(f.notes, fmt.Sprintf("%s: %v", p, err))
		}
	}
	if f.config, f.configFrom = c.cachedConfig(); f.config != nil {
		return f
	}
	for _, p := range c.ConfigFiles {
		config, err := readConfig(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			f.notes = append(f.notes, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		f.config, f.configFrom = config, p
		c.cacheConfig(config, p)
		break
	}
	return f
}

// The config cache (Checker.ConfigCache) is a header line that names the
// boot, the file the config came from and the options kept, then the
// lines of the config about those options: the options Features asks
// about, a kilobyte of the config's hundred. A kernel's config cannot
// change before the next boot, and /proc/config.gz costs half a
// millisecond of gunzip on every apply that changes something. A cache
// of other options (another netcompose) is not believed.
const cacheHeader = "# netcompose: kernel config of boot %s from %s options %s\n"

// cachedOptions are the options the cache keeps, sorted, and their
// digest for its header.
var cachedOptions = sync.OnceValues(func() ([]string, string) {
	var opts []string
	for _, f := range Features {
		for _, n := range slices.Concat(f.Needs, f.Else) {
			if n.Config != "" {
				opts = append(opts, n.Config)
			}
		}
	}
	slices.Sort(opts)
	opts = slices.Compact(opts)
	h := fnv.New64a()
	h.Write([]byte(strings.Join(opts, "\n")))
	return opts, fmt.Sprintf("%016x", h.Sum64())
})

// cachedConfig returns the cached config and where it came from, if the
// cache is of this boot.
func (c *Checker) cachedConfig() (kconfig, string) {
	if c.ConfigCache == "" || c.BootID == "" {
		return nil, ""
	}
	b, err := os.ReadFile(c.ConfigCache)
	if err != nil {
		return nil, ""
	}
	head, rest, ok := bytes.Cut(b, []byte("\n"))
	var boot, from, digest string
	if !ok {
		return nil, ""
	}
	_, want := cachedOptions()
	if n, _ := fmt.Sscanf(string(head)+"\n", cacheHeader, &boot, &from, &digest); n != 3 || boot != c.BootID || digest != want {
		return nil, ""
	}
	return kconfig(rest), from
}

// cacheConfig writes the cache, best effort: without it the next check
// reads the config again.
func (c *Checker) cacheConfig(config kconfig, from string) {
	if c.ConfigCache == "" || c.BootID == "" || strings.ContainsAny(from, " \n") {
		return
	}
	opts, digest := cachedOptions()
	b := []byte(fmt.Sprintf(cacheHeader, c.BootID, from, digest))
	for _, opt := range opts {
		if v, ok := config.line(opt + "="); ok {
			b = append(b, opt+"="+v+"\n"...)
		} else if _, ok := config.line("# " + opt + " is not set"); ok {
			b = append(b, "# "+opt+" is not set\n"...)
		}
	}
	tmp := c.ConfigCache + ".tmp"
	if os.WriteFile(tmp, b, 0o644) != nil || os.Rename(tmp, c.ConfigCache) != nil {
		os.Remove(tmp)
	}
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
// .gz, as /proc/config.gz).
func readConfig(path string) (kconfig, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var r io.Reader = fh
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(fh)
		if err != nil {
			return nil, fmt.Errorf("gunzip: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return kconfig(b), nil
}

// kconfig is a kernel config's text. A check asks for a handful of its
// thousands of options, so each is looked up when asked for rather than
// all parsed (which cost twice the gunzip, on every apply).
type kconfig []byte

// get is the option's value: "y", "m", "n" for "# CONFIG_X is not set",
// or "" when the config does not mention it.
func (c kconfig) get(opt string) string {
	if v, ok := c.line(opt + "="); ok {
		return v
	}
	if _, ok := c.line("# " + opt + " is not set"); ok {
		return "n"
	}
	return ""
}

// line finds the line that starts with prefix and returns the rest of it.
func (c kconfig) line(prefix string) (string, bool) {
	for i := 0; i < len(c); {
		j := bytes.Index(c[i:], []byte(prefix))
		if j < 0 {
			return "", false
		}
		j += i
		if j == 0 || c[j-1] == '\n' {
			rest := c[j+len(prefix):]
			if end := bytes.IndexByte(rest, '\n'); end >= 0 {
				rest = rest[:end]
			}
			return string(bytes.TrimRight(rest, "\r")), true
		}
		i = j + 1
	}
	return "", false
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
