package importer

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netns"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// sysctlRoot is where a namespace's net.* sysctls are: /proc/sys/net
// shows those of the namespace of the thread that reads it.
const sysctlRoot = "/proc/sys/net"

// readSysctls reads every net.* sysctl that can be read and written in
// the namespace ns, by path under /proc/sys/net ("ipv4/conf/eth0/arp_ignore").
func readSysctls(ns netns.NsHandle) (map[string]string, error) {
	out := map[string]string{}
	err := nsrun.DoHandle(ns, func() error {
		return filepath.WalkDir(sysctlRoot, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // an interface gone while we walk
				}
				return err
			}
			if d.IsDir() {
				return nil
			}
			info, err := d.Info()
			if err != nil || info.Mode().Perm()&0o200 == 0 || info.Mode().Perm()&0o400 == 0 {
				return nil // read-only counters, write-only triggers
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil // stable_secret before it is set, and the like
			}
			out[strings.TrimPrefix(p, sysctlRoot+"/")] = strings.TrimSpace(string(b))
			return nil
		})
	})
	return out, err
}

// dotted is the sysctl name of path p under /proc/sys/net, as a file
// writes it: "net.ipv4.conf.eth0.arp_ignore" (an interface name keeps its
// dots).
func dotted(p string) string { return "net." + strings.ReplaceAll(p, "/", ".") }
