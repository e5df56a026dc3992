package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/nsrun"
)

// sysctlDriver manages net.* sysctls inside a node. A sysctl becomes the
// lab's when netcompose first changes it: the state record keeps the value
// it found, and deleting the resource writes that value back.
type sysctlDriver struct{}

func (sysctlDriver) observe(s *session, snaps []*snapshot, _ []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for _, sn := range snaps {
		for k, v := range sn.sysctls {
			out = append(out, compose.Resource{Kind: compose.KindSysctl, Node: sn.node, Name: k,
				Attrs: map[string]string{"value": v}})
		}
	}
	return out, nil
}

func (d sysctlDriver) create(s *session, r compose.Resource) error {
	return d.write(s, r.Node, r.Name, r.Attrs["value"])
}

func (d sysctlDriver) update(s *session, _, after compose.Resource) error {
	return d.write(s, after.Node, after.Name, after.Attrs["value"])
}

func (sysctlDriver) write(s *session, node, key, value string) error {
	p, err := sysctlPath(key)
	if err != nil {
		return err
	}
	var orig string
	err = nsrun.Do(nsrun.Path(s.nsName(node)), func() error {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		orig = strings.TrimSpace(string(b))
		return os.WriteFile(p, []byte(value), 0)
	})
	if err != nil {
		return fmt.Errorf("sysctl %s in %s: set %q: %w", key, node, value, err)
	}
	s.rec.setOriginal(node, key, orig)
	return nil
}

func (sysctlDriver) delete(s *session, r compose.Resource) error {
	orig, ok := s.rec.original(r.Node, r.Name)
	if ok && namespaceExists(s.lab, r.Node) {
		p, err := sysctlPath(r.Name)
		if err != nil {
			return err
		}
		err = nsrun.Do(nsrun.Path(s.nsName(r.Node)), func() error { return os.WriteFile(p, []byte(orig), 0) })
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sysctl %s in %s: restore %q: %w", r.Name, r.Node, orig, err)
		}
	}
	s.rec.forgetSysctl(r.Node, r.Name)
	return nil
}

// readSysctls reads keys inside node in one namespace switch; keys that do
// not exist (yet: an interface's conf before the interface) are left out.
func (s *session) readSysctls(node string, keys []string) (map[string]string, error) {
	out := map[string]string{}
	err := nsrun.Do(nsrun.Path(s.nsName(node)), func() error {
		for _, k := range keys {
			p, err := sysctlPath(k)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("sysctl %s in %s: %w", k, node, err)
			}
			out[k] = strings.TrimSpace(string(b))
		}
		return nil
	})
	return out, err
}

// sysctlPath maps a dotted key to its file under /proc/sys. In
// net.ipv4.conf.IF.key the interface name keeps its dots (eth0.100).
func sysctlPath(key string) (string, error) {
	p := strings.Split(key, ".")
	if len(p) < 2 || p[0] != "net" {
		return "", fmt.Errorf("sysctl %s: only net.* keys", key)
	}
	for _, x := range p {
		if x == "" || strings.Contains(x, "/") {
			return "", fmt.Errorf("sysctl %s: bad key", key)
		}
	}
	if len(p) >= 5 && (p[2] == "conf" || p[2] == "neigh") {
		p = append(p[:3], strings.Join(p[3:len(p)-1], "."), p[len(p)-1])
	}
	return "/proc/sys/" + strings.Join(p, "/"), nil
}
