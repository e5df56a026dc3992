package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// needsPrivilege marks commands that read or change the kernel's
// namespaces: run without the privilege, they fail at once with a reason
// instead of "mkdir /run/netcompose/x: permission denied" half way.
var needsPrivilege = map[string]string{
	"apply":   "creates network namespaces and changes their links",
	"destroy": "deletes the lab's network namespaces",
	"diff":    "reads the lab's network namespaces",
	"status":  "reads the lab's network namespaces",
	"test":    "runs probes inside the lab's network namespaces",
	"exec":    "runs a command inside a lab's network namespace",
	"capture": "opens a packet socket inside a lab's network namespace",
	"import":  "reads network namespaces and makes a throwaway one",
	"logs":    "reads the lab's logs under /run/netcompose",
	"watch":   "connects to the lab's supervisor socket (root only)",
}

// Capabilities netcompose needs without root: CAP_NET_ADMIN (netlink
// changes, iptables) and CAP_SYS_ADMIN (setns, mounting namespaces).
const (
	capNetAdmin = 12
	capSysAdmin = 21
)

func checkPrivilege(cmd *cobra.Command) error {
	why, ok := needsPrivilege[cmd.Name()]
	if !ok || os.Geteuid() == 0 || hasCaps(capNetAdmin, capSysAdmin) {
		return nil
	}
	return fmt.Errorf("%s needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN): it %s; run it with sudo", cmd.Name(), why)
}

// hasCaps reports whether the process's effective capabilities hold all
// of caps (from /proc/self/status, CapEff).
func hasCaps(caps ...uint) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		hex, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		eff, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return false
		}
		for _, c := range caps {
			if eff&(1<<c) == 0 {
				return false
			}
		}
		return true
	}
	return false
}
