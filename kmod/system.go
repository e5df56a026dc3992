package kmod

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	pkmod "github.com/pmorjan/kmod"
	"golang.org/x/sys/unix"
)

// System returns the Checker for the running kernel: /lib/modules/$(uname
// -r), /proc/config.gz or /boot/config-$(uname -r) (kept for the boot in
// /run/netcompose/kernel-config), /sys/module, modules loaded with
// github.com/pmorjan/kmod, and the real probes of probe.go.
func System() *Checker {
	rel := release()
	c := &Checker{
		ConfigFiles: []string{"/proc/config.gz"},
		SysModule:   "/sys/module",
		Load:        (&loader{}).load,
		Probe:       Probe,
	}
	// The cache is in netcompose's own directory, and names the boot it is
	// of (where /run is not a tmpfs, it outlives a reboot). Only a
	// directory that exists is used: a check makes no directory.
	if st, err := os.Stat(configCacheDir); err == nil && st.IsDir() {
		if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
			c.ConfigCache, c.BootID = filepath.Join(configCacheDir, "kernel-config"), strings.TrimSpace(string(b))
		}
	}
	if rel != "" {
		c.ModulesDir = filepath.Join("/lib/modules", rel)
		c.ConfigFiles = append(c.ConfigFiles, "/boot/config-"+rel)
	}
	return c
}

// configCacheDir is where System caches the kernel config: the root of
// netcompose's state (labdir.Root), whose entries that are not
// directories are never taken for labs.
const configCacheDir = "/run/netcompose"

func release() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return string(u.Release[:bytes.IndexByte(u.Release[:], 0)])
}

// loader loads modules with pmorjan/kmod, which resolves dependencies from
// modules.dep. It is set up on first use: a kernel without loadable
// modules has no modules.dep, and then every load says so.
type loader struct {
	once sync.Once
	k    *pkmod.Kmod
	err  error
}

func (l *loader) load(name, params string) error {
	l.once.Do(func() { l.k, l.err = pkmod.New() })
	if l.err != nil {
		return fmt.Errorf("no loadable modules: %w", l.err)
	}
	return l.k.Load(name, params, 0)
}
