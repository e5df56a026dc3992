package compose

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"strings"
)

// safeName checks a node or lab name: it becomes a file name under
// /run/netns, so [a-z0-9][a-z0-9_.-]* and never "/", "." or "..".
func safeName(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	if len(s) > 200 {
		return fmt.Errorf("%q is longer than 200 bytes", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if i > 0 {
			ok = ok || c == '_' || c == '.' || c == '-'
		}
		if !ok {
			return fmt.Errorf("%q is not a safe name (want [a-z0-9][a-z0-9_.-]*)", s)
		}
	}
	return nil
}

// ifName checks an interface name the way the kernel's dev_valid_name
// does: 1..15 bytes, not "." or "..", no "/", ":" or whitespace.
func ifName(s string) error {
	switch {
	case s == "":
		return errors.New("empty interface name")
	case len(s) > 15:
		return fmt.Errorf("interface name %q is longer than 15 bytes", s)
	case s == "." || s == "..":
		return fmt.Errorf("interface name %q is not allowed", s)
	case strings.ContainsAny(s, "/: \t\n\r\v\f"):
		return fmt.Errorf("interface name %q contains \"/\", \":\" or whitespace", s)
	}
	return nil
}

// sysctlName accepts net.* dotted names only: a lab changes the network
// stack of its own namespaces, nothing else of the machine.
func sysctlName(s string) error {
	if !strings.HasPrefix(s, "net.") {
		return fmt.Errorf("only net.* sysctls are allowed inside a namespace")
	}
	for _, p := range strings.Split(s, ".") {
		if p == "" || p == ".." || strings.ContainsAny(p, "/ \t") {
			return fmt.Errorf("%q is not a sysctl name", s)
		}
	}
	return nil
}

// sysctlValue normalises a value to what the kernel prints back: on/off
// and friends become 1/0, and the words of a multi-value sysctl (like
// net.ipv4.ip_local_port_range) are joined by one tab, as /proc/sys prints them.
func sysctlValue(v string) string {
	if b, err := parseBool(v); err == nil && !isDigits(v) {
		if b {
			return "1"
		}
		return "0"
	}
	return strings.Join(strings.Fields(v), "\t")
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseMAC accepts a 6-byte Ethernet address and returns it lower-case.
func parseMAC(s string) (string, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("%q is not a MAC address (like 02:00:00:00:00:01)", s)
	}
	return hw.String(), nil
}

// endpoint parses NODE:IF.
func endpoint(s string) (node, ifname string, err error) {
	node, ifname, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", fmt.Errorf("%q is not NODE:IF", s)
	}
	if err := safeName(node); err != nil {
		return "", "", fmt.Errorf("endpoint %q: %v", s, err)
	}
	if err := ifName(ifname); err != nil {
		return "", "", fmt.Errorf("endpoint %q: %v", s, err)
	}
	return node, ifname, nil
}

// CheckName applies the name rule of lab, node and host names to a name
// that arrives from anywhere else (a flag, a state record): the same rule
// as in files, so that no name can ever reach a path outside its place.
func CheckName(s string) error { return safeName(s) }

// CheckStateKey checks a state key, "<lab>" or "<lab>@<host>", part by part.
func CheckStateKey(key string) error {
	lab, host, hasHost := strings.Cut(key, "@")
	if err := safeName(lab); err != nil {
		return fmt.Errorf("lab name: %w", err)
	}
	if hasHost {
		if err := safeName(host); err != nil {
			return fmt.Errorf("host name: %w", err)
		}
	}
	return nil
}

// compareNatural orders names as people count: runs of digits compare by
// their value, so h2 comes before h10 and 10.0.0.9 before 10.0.0.10;
// everything else byte by byte. Names equal but for leading zeros (h01,
// h1) are ordered bytewise, so the order is total and stable.
func compareNatural(a, b string) int {
	x, y := a, b
	for x != "" && y != "" {
		dx, dy := digitRun(x), digitRun(y)
		if dx == 0 || dy == 0 {
			if x[0] != y[0] {
				return cmp.Compare(x[0], y[0])
			}
			x, y = x[1:], y[1:]
			continue
		}
		nx, ny := strings.TrimLeft(x[:dx], "0"), strings.TrimLeft(y[:dy], "0")
		if c := cmp.Or(cmp.Compare(len(nx), len(ny)), strings.Compare(nx, ny)); c != 0 {
			return c
		}
		x, y = x[dx:], y[dy:]
	}
	return cmp.Or(cmp.Compare(len(x), len(y)), strings.Compare(a, b))
}

// digitRun is the length of the run of ASCII digits s starts with.
func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
