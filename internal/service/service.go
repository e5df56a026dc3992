// Package service runs a lab's [service:] sections inside their nodes:
// builtin WebSocket and HTTP services served in-process, and commands run
// as child processes. It implements the supervisor's component contract
// (Start, and a Running with Stats, Stop, Done and Err).
//
// A builtin's listener is opened inside the node's namespace through
// nsrun and then served from ordinary goroutines: a socket keeps the
// namespace it was created in. A command is started from a thread that
// nsrun has switched into the namespace; the child inherits it.
package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nsrun"
	"github.com/netcompose/netcompose/internal/supervisor"
)

// Start is a supervisor.StartFunc: it starts the service that config (a
// Config as JSON) describes and returns once it serves (its listener is
// open, or its command has been executed), or with the error that
// prevents it, naming the service's section.
func Start(ctx context.Context, config json.RawMessage, env supervisor.Env) (supervisor.Running, error) {
	var cfg Config
	dec := json.NewDecoder(strings.NewReader(string(config)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("service: decode config: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("%s: invalid config: %w", cfg.section(), err)
	}
	cfg = cfg.withDefaults()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: start: %w", cfg.section(), err)
	}
	if err := netnsExists(cfg.Netns); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.section(), err)
	}
	if cfg.Kind == "" {
		return startCommand(ctx, cfg, env)
	}
	return startWeb(ctx, cfg, env)
}

var _ supervisor.StartFunc = Start

// netnsExists explains a namespace that is gone in words a user can act
// on, before nsrun's lower-level error would.
func netnsExists(path string) error {
	_, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("namespace %s does not exist (is the lab applied?): %w", path, err)
	}
	if err != nil {
		return fmt.Errorf("namespace %s: %w", path, err)
	}
	return nil
}

// listenIn opens a TCP listener at addr inside the namespace at nsPath.
func listenIn(nsPath, addr string) (net.Listener, error) {
	var ln net.Listener
	var lerr error
	err := nsrun.Do(nsPath, func() error {
		ln, lerr = net.Listen("tcp", addr)
		return nil
	})
	if err == nil {
		err = lerr
	}
	if err != nil {
		what := fmt.Errorf("listen on %s in %s: %w", addr, nsPath, err)
		if errors.Is(err, unix.EADDRNOTAVAIL) {
			what = fmt.Errorf("%w (the address is not on any interface of that namespace)", what)
		}
		return nil, what
	}
	return ln, nil
}

// dialIn connects to addr over TCP from a socket created inside the
// namespace at nsPath; ctx bounds the connect.
func dialIn(ctx context.Context, nsPath, addr string) (net.Conn, error) {
	var conn net.Conn
	var derr error
	err := nsrun.Do(nsPath, func() error {
		var d net.Dialer
		conn, derr = d.DialContext(ctx, "tcp", addr)
		return nil
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return nil, fmt.Errorf("connect to %s from %s: %w", addr, nsPath, err)
	}
	return conn, nil
}
