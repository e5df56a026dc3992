package compose

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"
)

// Service is a [service:NAME] section: a builtin service or a command,
// running inside a node.
type Service struct {
	Meta
	Name  string
	Netns string
	Kind  string // use = builtin:KIND: websocket-echo|websocket-broadcast|websocket-bridge|http

	// Builtins.
	Listen      netip.AddrPort // listen = IP:PORT
	Path        string         // path, default "/": served with everything below it
	Target      string         // websocket-bridge: HOST:PORT each connection is bridged to over TCP
	MaxConn     int            // max_connections, 0 = unlimited
	MaxMsg      int            // max_message bytes, 0 = the default (32 KiB)
	IdleTimeout time.Duration  // idle_timeout: close a connection quiet this long, 0 = never
	Origins     []string       // origins: Origin patterns a handshake must match; none = any
	Status      int            // http: the response status, default 200
	Body        string         // http: the response body
	Delay       time.Duration  // http: how long to wait before answering

	// Commands.
	Command     string        // command = ...: a program run inside the namespace instead
	Argv        []string      // Command split like a shell; /bin/sh -c Command with shell = on
	Shell       bool          // shell = on: run Command with /bin/sh -c
	Restart     string        // always|on-failure|never, default on-failure
	Env         []string      // env = NAME=VALUE ...: added to the inherited environment
	Workdir     string        // workdir: absolute; the runtime defaults it to the lab file's directory
	StopSignal  string        // stop_signal, default SIGTERM
	StopTimeout time.Duration // stop_timeout, default 10s: then SIGKILL
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
	Protocol  string // icmp|tcp|udp|arp|websocket|http, default icmp
	Expect    string // pass|fail, default pass
	Count     int    // icmp: echo requests, default 3
	MaxLoss   int    // icmp: percent of lost echoes tolerated, default 0
	Timeout   time.Duration
	Interface string        // interface of from to send on (arp)
	Answer    []string      // arp: NODE or NODE:IF...: the MACs that must answer, and no others
	Path      string        // websocket, http: path, default "/"
	TTL       int           // icmp: the TTL replies must arrive with, 0 = any
	MinRTT    time.Duration // icmp: min_rtt, the fastest reply's round trip at least this; 0 = any
	MaxRTT    time.Duration // icmp: max_rtt, the slowest reply's round trip at most this; 0 = any
	Send      string        // websocket: the message to send, default a random token
	Reply     string        // websocket: expect_reply, default the echo of Send
	Origin    string        // websocket: the Origin header of the handshake, default none
	ReplyFrom string        // websocket: the node whose own client must receive Send (a broadcast room)
	Status    int           // http: the status to expect, default 200
	Body      string        // http: a substring the body must contain
	// Capture (icmp) is an interface that watches while the echoes go;
	// Captured says whether it must see the echo requests (default) or
	// must not.
	Capture  End
	Captured bool
}

// Host is a [host:NAME] section: a machine of a multi-host lab.
type Host struct {
	Meta
	Name     string
	Underlay netip.Addr
}

var serviceKinds = []string{"websocket-echo", "websocket-broadcast", "websocket-bridge", "http"}

// Defaults of command services.
const (
	DefaultRestart     = "on-failure"
	DefaultStopSignal  = "SIGTERM"
	DefaultStopTimeout = 10 * time.Second
)

// stopSignals are the signals stop_signal may name.
var stopSignals = []string{"SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGKILL"}

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
		readBuiltin(r, s)
	case s.Command != "":
		readCommand(r, s)
	default:
		r.errorf("use", "want use = builtin:KIND (%s) or command = ...", strings.Join(serviceKinds, ", "))
	}
	s.Meta = r.meta
	return s
}

// readBuiltin reads the keys of a builtin service; the keys of commands
// are named as misplaced rather than unknown.
func readBuiltin(r *reader, s *Service) {
	l := r.str("listen", "")
	ap, err := netip.ParseAddrPort(l)
	if err != nil || ap.Port() == 0 {
		r.errorf("listen", "listen: %q is not IP:PORT", l)
	}
	s.Listen = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	s.Path = r.str("path", "/")
	if !strings.HasPrefix(s.Path, "/") {
		r.errorf("path", "path: %q must start with /", s.Path)
	}
	if s.Kind == "websocket-bridge" {
		s.Target = r.str("target", "")
		if err := hostPort(s.Target); err != nil {
			r.errorf("target", "target: %v", err)
		}
	} else {
		r.misplaced("target", "builtin:websocket-bridge")
	}
	s.MaxConn = r.integer("max_connections", 0, 1<<20, 0)
	s.MaxMsg = r.integer("max_message", 0, 1<<30, 0)
	s.IdleTimeout = r.duration("idle_timeout", 0, 24*time.Hour)
	s.Origins = r.list("origins")
	for _, o := range s.Origins {
		if _, err := path.Match(o, ""); err != nil {
			r.errorf("origins", "origins: %q is not a pattern: %v", o, err)
		}
	}
	if s.Kind == "http" {
		s.Status = r.integer("status", 100, 599, 200)
		s.Body, _ = r.lookup("body")
		s.Delay = r.duration("delay", 0, time.Hour)
	} else {
		for _, k := range []string{"status", "body", "delay"} {
			r.misplaced(k, "builtin:http")
		}
	}
	for _, k := range []string{"shell", "restart", "env", "workdir", "stop_signal", "stop_timeout"} {
		r.misplaced(k, "command services")
	}
}

// readCommand reads the keys of a command service.
func readCommand(r *reader, s *Service) {
	s.Shell = r.boolean("shell", false)
	if s.Shell {
		s.Argv = []string{"/bin/sh", "-c", s.Command}
	} else if argv, err := splitWords(s.Command); err != nil {
		r.errorf("command", "command: %v", err)
	} else if len(argv) == 0 {
		r.errorf("command", "command: empty")
	} else {
		s.Argv = argv
	}
	s.Restart = r.oneOf("restart", DefaultRestart, "always", "on-failure", "never")
	env, _ := r.lookup("env")
	vars, err := splitWords(env)
	if err != nil {
		r.errorf("env", "env: %v", err)
	}
	for _, v := range vars {
		if name, _, ok := strings.Cut(v, "="); !ok || !envName(name) {
			r.errorf("env", "env: %q is not NAME=VALUE", v)
		}
	}
	s.Env = vars
	s.Workdir = r.str("workdir", "")
	if s.Workdir != "" && !strings.HasPrefix(s.Workdir, "/") {
		r.errorf("workdir", "workdir: %q is not an absolute path", s.Workdir)
	}
	raw := r.str("stop_signal", DefaultStopSignal)
	sig := strings.ToUpper(raw)
	if !strings.HasPrefix(sig, "SIG") {
		sig = "SIG" + sig
	}
	if !contains(stopSignals, sig) {
		r.errorf("stop_signal", "stop_signal: %q is not one of %s", raw, strings.Join(stopSignals, ", "))
	}
	s.StopSignal = sig
	s.StopTimeout = r.duration("stop_timeout", DefaultStopTimeout, time.Hour)
	// listen, optional for a command: where its program listens; apply
	// waits until it accepts connections there, and checks to that port
	// test it.
	if l := r.str("listen", ""); l != "" {
		ap, err := netip.ParseAddrPort(l)
		if err != nil || ap.Port() == 0 {
			r.errorf("listen", "listen: %q is not IP:PORT", l)
		}
		s.Listen = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	for _, k := range []string{"path", "target", "max_connections", "max_message",
		"idle_timeout", "origins", "status", "body", "delay"} {
		r.misplaced(k, "builtin services")
	}
}

// misplaced reports key when the section sets it but its kind does not
// take it: "max_message: only for builtin services" says more than
// "unknown key".
func (r *reader) misplaced(key, takers string) {
	r.lookup(key)
	if r.own(key) {
		r.errorf(key, "%s: only for %s", key, takers)
	}
}

// duration reads a Go duration ("500ms", "1m30s") or a number of seconds,
// in [0, hi]; def when unset.
func (r *reader) duration(key string, def, hi time.Duration) time.Duration {
	v, ok := r.lookup(key)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, ferr := strconv.ParseFloat(v, 64)
		d, err = time.Duration(secs*float64(time.Second)), ferr
	}
	if err != nil || d < 0 || d > hi {
		r.errorf(key, "%s: %q is not a duration in 0..%s (500ms, 2s, or seconds)", key, v, hi)
		return def
	}
	return d
}

// hostPort checks HOST:PORT, HOST a name or an address.
func hostPort(v string) error {
	if v == "" {
		return errors.New("missing (HOST:PORT to bridge to)")
	}
	host, p, err := net.SplitHostPort(v)
	if err != nil || host == "" {
		return fmt.Errorf("%q is not HOST:PORT", v)
	}
	_, err = port(p)
	return err
}

func envName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// splitWords splits a command line as a POSIX shell splits words: blanks
// separate, 'single quotes' keep everything, "double quotes" keep all but
// \" \\ \$ \` escapes, and a backslash outside quotes escapes the next
// character. There is no expansion of any kind: no variables, globs or
// operators ("|" is just a word).
func splitWords(line string) ([]string, error) {
	var (
		words  []string
		cur    strings.Builder
		inWord bool
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
			continue
		case c == '\\' && i+1 < len(line) && line[i+1] == '\n':
			i++ // a continued line, as in a shell
			continue
		case c == '\\':
			if i+1 == len(line) {
				return nil, errors.New("trailing backslash")
			}
			i++
			cur.WriteByte(line[i])
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			j, err := doubleQuoted(line, i+1, &cur)
			if err != nil {
				return nil, err
			}
			i = j
		default:
			cur.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// doubleQuoted copies the double-quoted text starting at line[i] into cur
// and returns the index of the closing quote.
func doubleQuoted(line string, i int, cur *strings.Builder) (int, error) {
	for ; i < len(line); i++ {
		switch c := line[i]; {
		case c == '"':
			return i, nil
		case c == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0:
			i++
			cur.WriteByte(line[i])
		default:
			cur.WriteByte(c)
		}
	}
	return 0, errors.New("unterminated double quote")
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
	c.Protocol = r.oneOf("protocol", "icmp", "icmp", "tcp", "udp", "arp", "websocket", "http")
	c.To = r.str("to", "")
	if c.To == "" {
		r.errorf("to", "to: missing (IP[:PORT] or NODE[:PORT])")
	} else if err := c.parseTo(); err != nil {
		r.errorf("to", "to: %v", err)
	}
	switch c.Protocol {
	case "tcp", "udp", "websocket", "http":
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
	readWebCheck(r, c)
	c.TTL = r.integer("ttl", 1, 255, 0)
	if c.TTL != 0 && c.Protocol != "icmp" {
		r.errorf("ttl", "ttl: only for protocol = icmp")
	}
	readRTTBounds(r, c)
	readCapture(r, c)
	c.Meta = r.meta
	return c
}

// readRTTBounds reads min_rtt and max_rtt, the bounds of an icmp check's
// round trips: what proves a link's delay.
func readRTTBounds(r *reader, c *Check) {
	bound := func(key string) time.Duration {
		v, ok := r.lookup(key)
		if !ok || v == "" {
			return 0
		}
		if c.Protocol != "icmp" {
			r.errorf(key, "%s: only for protocol = icmp", key)
			return 0
		}
		us, err := ParseMicros(v, time.Hour)
		if err != nil {
			r.errorf(key, "%s: %v", key, err)
			return 0
		}
		d := time.Duration(us) * time.Microsecond
		if d >= c.Timeout {
			r.errorf(key, "%s: %s is not below timeout %s: no reply that slow is waited for", key, d, c.Timeout)
		}
		return d
	}
	c.MinRTT, c.MaxRTT = bound("min_rtt"), bound("max_rtt")
	if c.MinRTT > 0 && c.MaxRTT > 0 && c.MinRTT > c.MaxRTT {
		r.errorf("max_rtt", "max_rtt: %s is below min_rtt %s", c.MaxRTT, c.MinRTT)
	}
}

// readWebCheck reads the keys of websocket and http checks.
func readWebCheck(r *reader, c *Check) {
	web := c.Protocol == "websocket" || c.Protocol == "http"
	if web {
		c.Path = r.str("path", "/")
		if !strings.HasPrefix(c.Path, "/") {
			r.errorf("path", "path: %q must start with /", c.Path)
		}
	} else {
		r.misplaced("path", "protocol = websocket or http")
	}
	if c.Protocol == "websocket" {
		c.Send, _ = r.lookup("send")
		c.Reply, _ = r.lookup("expect_reply")
		c.Origin = r.str("origin", "")
		c.ReplyFrom = r.str("reply_from", "")
	} else {
		for _, k := range []string{"send", "expect_reply", "origin", "reply_from"} {
			r.misplaced(k, "protocol = websocket")
		}
	}
	if c.Protocol == "http" {
		c.Status = r.integer("status", 100, 599, 200)
		c.Body, _ = r.lookup("body")
	} else {
		r.misplaced("status", "protocol = http")
		r.misplaced("body", "protocol = http")
	}
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
