package kmod

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"

	pkmod "github.com/pmorjan/kmod"
	"golang.org/x/sys/unix"
)

// System returns the Checker for the running kernel: /lib/modules/$(uname
// -r), /proc/config.gz or /boot/config-$(uname -r), /sys/module, modules
// loaded with github.com/pmorjan/kmod, and the real probes of probe.go.
func System() *Checker {
	rel := release()
	c := &Checker{
		ConfigFiles: []string{"/proc/config.gz"},
		SysModule:   "/sys/module",
		Load:        (&loader{}).load,
		Probe:       Probe,
	}
	if rel != "" {
		c.ModulesDir = filepath.Join("/lib/modules", rel)
		c.ConfigFiles = append(c.ConfigFiles, "/boot/config-"+rel)
	}
	return c
}

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
