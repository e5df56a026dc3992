package compose

import (
	"net/netip"
	"strings"
	"time"
)

// Service is a [service:NAME] section: a builtin WebSocket service or a
// command, running inside a node.
type Service struct {
	Meta
	Name    string
	Netns   string
	Kind    string         // use = builtin:KIND: websocket-echo|websocket-broadcast|websocket-bridge
	Command string         // command = ...: a program run inside the namespace instead
	Listen  netip.AddrPort // listen = IP:PORT
	Path    string         // path, default "/"
	Target  string         // websocket-bridge: where to forward, ws://IP:PORT/path or IP:PORT
	MaxConn int            // max_connections, 0 = unlimited
	MaxMsg  int            // max_message bytes, 0 = library default
}

// Kmod is a [kmod:NAME] section: a kernel module the lab needs.
type Kmod struct {
	Meta
	Name     string
	Module   string // module, default NAME
	Params   string // params = k=v ...
	Optional bool
}

// Check is a [check:NAME] section: one expected behaviour of the lab.
type Check struct {
	Meta
	Name      string
	From      string // from = NODE
	To        string // to as written: IP[:PORT] or NODE[:PORT]
	ToNode    string // the node when to names one
	ToAddr    netip.Addr
	Port      int
	Protocol  string // icmp|tcp|udp|arp|websocket, default icmp
	Expect    string // pass|fail, default pass
	Count     int    // icmp: echo requests, default 3
	MaxLoss   int    // icmp: percent of lost echoes tolerated, default 0
	Timeout   time.Duration
	Interface string   // interface of from to send on (arp)
	Answer    []string // arp: NODE or NODE:IF...: the MACs that must answer, and no others
	Path      string   // websocket: path, default "/"
	TTL       int      // icmp: the TTL replies must arrive with, 0 = any
}

// Host is a [host:NAME] section: a machine of a multi-host lab.
type Host struct {
	Meta
	Name     string
	Underlay netip.Addr
}

var serviceKinds = []string{"websocket-echo", "websocket-broadcast", "websocket-bridge"}

func readService(r *reader) *Service {
	s := &Service{Name: r.s.Name}
	s.Netns = r.str("netns", "")
	if s.Netns == "" {
		r.errorf("netns", "netns: missing (the node the service runs in)")
	}
	kind, isBuiltin := strings.CutPrefix(r.s.Use, "builtin:")
	s.Command, _ = r.lookup("command")
	switch {
	case isBuiltin && s.Command != "":
		r.errorf("command", "command and use = builtin:%s exclude each other", kind)
	case isBuiltin:
		s.Kind = kind
		if !contains(serviceKinds, kind) {
			r.errorf("use", "use: unknown service builtin:%s (want %s)", kind, strings.Join(serviceKinds, ", "))
		}
		l := r.str("listen", "")
		ap, err := netip.ParseAddrPort(l)
		if err != nil || ap.Port() == 0 {
			r.errorf("listen", "listen: %q is not IP:PORT", l)
		}
		s.Listen = ap
		s.Path = r.str("path", "/")
		if !strings.HasPrefix(s.Path, "/") {
			r.errorf("path", "path: %q must start with /", s.Path)
		}
		s.Target = r.str("target", "")
		if (kind == "websocket-bridge") != (s.Target != "") {
			r.errorf("target", "target: wanted by websocket-bridge only")
		}
		s.MaxConn = r.integer("max_connections", 0, 1<<20, 0)
		s.MaxMsg = r.integer("max_message", 0, 1<<30, 0)
	case s.Command == "":
		r.errorf("use", "want use = builtin:KIND (%s) or command = ...", strings.Join(serviceKinds, ", "))
	}
	s.Meta = r.meta
	return s
}

func readKmod(r *reader) *Kmod {
	k := &Kmod{Name: r.s.Name}
	k.Module = r.str("module", k.Name)
	k.Params = strings.Join(r.list("params"), " ")
	k.Optional = r.boolean("optional", false)
	if strings.ContainsAny(k.Module, "/ ") || k.Module == "" {
		r.errorf("module", "module: %q is not a module name", k.Module)
	}
	k.Meta = r.meta
	return k
}

func readCheck(r *reader) *Check {
	c := &Check{Name: r.s.Name}
	c.From = r.str("from", "")
	if c.From == "" {
		r.errorf("from", "from: missing (the node the check runs in)")
	}
	c.Protocol = r.oneOf("protocol", "icmp", "icmp", "tcp", "udp", "arp", "websocket")
	c.To = r.str("to", "")
	if c.To == "" {
		r.errorf("to", "to: missing (IP[:PORT] or NODE[:PORT])")
	} else if err := c.parseTo(); err != nil {
		r.errorf("to", "to: %v", err)
	}
	switch c.Protocol {
	case "tcp", "udp", "websocket":
		if c.Port == 0 {
			r.errorf("to", "to: %s checks need a port (%s:PORT)", c.Protocol, c.To)
		}
	case "icmp", "arp":
		if c.Port != 0 {
			r.errorf("to", "to: %s checks take no port", c.Protocol)
		}
	}
	c.Expect = r.oneOf("expect", "pass", "pass", "fail")
	c.Count = r.integer("count", 1, 1000, 3)
	c.MaxLoss = r.integer("max_loss", 0, 100, 0)
	c.Timeout = time.Duration(r.integer("timeout", 1, 3600, 2)) * time.Second
	c.Interface = r.str("interface", "")
	c.Answer = r.list("answer")
	if len(c.Answer) > 0 && c.Protocol != "arp" {
		r.errorf("answer", "answer: only for protocol = arp")
	}
	c.Path = r.str("path", "/")
	c.TTL = r.integer("ttl", 1, 255, 0)
	if c.TTL != 0 && c.Protocol != "icmp" {
		r.errorf("ttl", "ttl: only for protocol = icmp")
	}
	c.Meta = r.meta
	return c
}

// parseTo splits to = IP[:PORT] | NODE[:PORT] | [IPv6]:PORT.
func (c *Check) parseTo() error {
	if ap, err := netip.ParseAddrPort(c.To); err == nil {
		c.ToAddr, c.Port = ap.Addr().Unmap(), int(ap.Port())
		return nil
	}
	if a, err := netip.ParseAddr(c.To); err == nil {
		c.ToAddr = a.Unmap()
		return nil
	}
	host, p, hasPort := strings.Cut(c.To, ":")
	if hasPort {
		n, err := port(p)
		if err != nil {
			return err
		}
		c.Port = n
	}
	if a, err := netip.ParseAddr(host); err == nil {
		c.ToAddr = a.Unmap()
		return nil
	}
	if err := safeName(host); err != nil {
		return err
	}
	c.ToNode = host
	return nil
}

func readHost(r *reader) *Host {
	h := &Host{Name: r.s.Name}
	if err := safeName(h.Name); err != nil {
		r.errorf("", "host name: %v", err)
	}
	h.Underlay = r.addr("underlay")
	h.Meta = r.meta
	return h
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
