package service

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/netcompose/netcompose/compose"
)

// Builtin kinds.
const (
	Echo      = "websocket-echo"
	Broadcast = "websocket-broadcast"
	Bridge    = "websocket-bridge"
	HTTP      = "http"
)

// Restart policies of command services.
const (
	RestartAlways    = "always"
	RestartOnFailure = "on-failure"
	RestartNever     = "never"
)

// Defaults for zero fields of a Config.
const (
	// DefaultMaxMessage is coder/websocket's own read limit.
	DefaultMaxMessage  = 32 << 10
	DefaultStopTimeout = 10 * time.Second
	DefaultBackoff     = 100 * time.Millisecond
	DefaultBackoffMax  = 30 * time.Second
	// bridgeDial bounds the TCP connect to a bridge's target.
	bridgeDial = 5 * time.Second
)

// Config is one resolved service: what the supervisor hands Start as JSON.
// Durations are nanoseconds in JSON, as in check results.
type Config struct {
	Name  string `json:"name"`           // the section's name: [service:NAME]
	Netns string `json:"netns"`          // the node's namespace, e.g. /run/netns/lab-web
	Kind  string `json:"kind,omitempty"` // a builtin; "" for a command

	// Builtins.
	Listen         string        `json:"listen,omitempty"` // IP:PORT
	Path           string        `json:"path,omitempty"`   // served with everything below it; default /
	Target         string        `json:"target,omitempty"` // websocket-bridge: HOST:PORT
	MaxConnections int           `json:"max_connections,omitempty"`
	MaxMessage     int           `json:"max_message,omitempty"` // bytes; default 32 KiB
	IdleTimeout    time.Duration `json:"idle_timeout_ns,omitempty"`
	Origins        []string      `json:"origins,omitempty"`
	Status         int           `json:"status,omitempty"` // http; default 200
	Body           string        `json:"body,omitempty"`   // http
	Delay          time.Duration `json:"delay_ns,omitempty"`

	// Commands.
	Command     []string      `json:"command,omitempty"` // argv, already split
	Restart     string        `json:"restart,omitempty"` // default on-failure
	Env         []string      `json:"env,omitempty"`     // NAME=VALUE, over the host's environment
	Workdir     string        `json:"workdir,omitempty"` // default: ConfigFrom gives the lab file's directory, else /
	StopSignal  string        `json:"stop_signal,omitempty"`
	StopTimeout time.Duration `json:"stop_timeout_ns,omitempty"`
	// Backoff is the first wait before a restart, doubled after each
	// run that ended within BackoffMax of its start, up to BackoffMax.
	// The lab file does not set them; tests do.
	Backoff    time.Duration `json:"backoff_ns,omitempty"`
	BackoffMax time.Duration `json:"backoff_max_ns,omitempty"`
}

// ConfigFrom resolves a [service:] section for the namespace mounted at
// nsPath.
func ConfigFrom(s *compose.Service, nsPath string) Config {
	c := Config{
		Name:  s.Name,
		Netns: nsPath,
		Kind:  s.Kind,
	}
	if s.Kind != "" {
		c.Listen = s.Listen.String()
		c.Path = s.Path
		c.Target = s.Target
		c.MaxConnections = s.MaxConn
		c.MaxMessage = s.MaxMsg
		c.IdleTimeout = s.IdleTimeout
		if len(s.Origins) > 0 {
			c.Origins = s.Origins
		}
		c.Status, c.Body, c.Delay = s.Status, s.Body, s.Delay
		return c
	}
	c.Command = s.Argv
	if s.Listen.IsValid() {
		c.Listen = s.Listen.String()
	}
	c.Restart = s.Restart
	if len(s.Env) > 0 {
		c.Env = s.Env
	}
	c.Workdir = s.Workdir
	if c.Workdir == "" {
		// Relative paths in the command read as in the lab file.
		if dir, err := filepath.Abs(filepath.Dir(s.Pos.File)); err == nil && s.Pos.File != "" {
			c.Workdir = dir
		}
	}
	c.StopSignal = s.StopSignal
	c.StopTimeout = s.StopTimeout
	return c
}

// section names the service in errors and logs as the file does.
func (c Config) section() string { return "[service:" + c.Name + "]" }

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Path == "" {
		c.Path = "/"
	}
	if c.MaxMessage == 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	if c.Kind == HTTP && c.Status == 0 {
		c.Status = 200
	}
	if c.Restart == "" {
		c.Restart = RestartOnFailure
	}
	if c.StopSignal == "" {
		c.StopSignal = "SIGTERM"
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.Backoff == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = max(DefaultBackoffMax, c.Backoff)
	}
	return c
}

// validate reports every problem that would stop the service from
// starting; compose has checked the same for configs built by ConfigFrom.
func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Name == "" {
		bad("no name")
	}
	if c.Netns == "" {
		bad("no namespace")
	}
	switch c.Kind {
	case "":
		if len(c.Command) == 0 {
			bad("neither a builtin kind nor a command")
		}
		switch c.Restart {
		case "", RestartAlways, RestartOnFailure, RestartNever:
		default:
			bad("restart %q is not always, on-failure or never", c.Restart)
		}
		if c.StopSignal != "" && signalNum(c.StopSignal) == 0 {
			bad("stop_signal %q is not a signal", c.StopSignal)
		}
		if ap, err := netip.ParseAddrPort(c.Listen); c.Listen != "" && (err != nil || ap.Port() == 0) {
			bad("listen %q is not IP:PORT", c.Listen)
		}
	case Echo, Broadcast, Bridge, HTTP:
		if ap, err := netip.ParseAddrPort(c.Listen); err != nil || ap.Port() == 0 {
			bad("listen %q is not IP:PORT", c.Listen)
		}
		if c.Path != "" && !strings.HasPrefix(c.Path, "/") {
			bad("path %q does not start with /", c.Path)
		}
		if _, _, err := net.SplitHostPort(c.Target); c.Kind == Bridge && err != nil {
			bad("target %q is not HOST:PORT", c.Target)
		}
	default:
		bad("unknown kind %q (want %s, %s, %s, %s or a command)", c.Kind, Echo, Broadcast, Bridge, HTTP)
	}
	if c.MaxConnections < 0 || c.MaxMessage < 0 || c.IdleTimeout < 0 || c.Delay < 0 || c.StopTimeout < 0 {
		bad("negative limit")
	}
	return errors.Join(errs...)
}
