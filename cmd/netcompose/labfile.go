package main

import (
	"errors"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/loader"
)

// Every command that loads a lab file takes --set KEY=VALUE (repeatable):
// a global of the file given from outside, as PasteDeploy's global_conf,
// so that one file serves several variants (a lab name, a subnet) without
// edits. docs/loader.md has the precedence.

// setGlobals are this run's --set values. A run is one process and labs
// are loaded deep inside the commands, so they are kept here rather than
// passed down every call; addSetFlag starts each run with none.
var setGlobals atomic.Pointer[[]loader.Value]

// setFlag is --set: each use adds a KEY=VALUE global, at the position
// "--set KEY=VALUE" for messages.
type setFlag struct{}

func (setFlag) String() string { return "" }
func (setFlag) Type() string   { return "KEY=VALUE" }

func (setFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return errors.New("want KEY=VALUE")
	}
	var vals []loader.Value
	if p := setGlobals.Load(); p != nil {
		vals = append(vals, *p...)
	}
	vals = append(vals, loader.Value{Key: k, Value: v, Pos: loader.Pos{File: "--set " + s}})
	setGlobals.Store(&vals)
	return nil
}

// addSetFlag gives --set to every command of root that loads a lab file:
// those whose usage names a FILE.
func addSetFlag(root *cobra.Command) {
	setGlobals.Store(nil)
	for _, c := range root.Commands() {
		if strings.Contains(c.Use, "FILE") {
			c.Flags().Var(setFlag{}, "set", "give the lab file a global, as its [DEFAULT] would (repeatable)")
		}
	}
}

// loadOptions are the loader options of this run.
func loadOptions() []loader.Option {
	if p := setGlobals.Load(); p != nil {
		return []loader.Option{loader.WithGlobals(*p...)}
	}
	return nil
}

// loadLab loads and builds the lab in path, with this run's --set globals.
func loadLab(path string) (*compose.Lab, error) {
	return compose.Load(path, loadOptions()...)
}

// loadLabFile is loadLab that also returns the loaded file.
func loadLabFile(path string) (*loader.File, *compose.Lab, error) {
	return compose.LoadFile(path, loadOptions()...)
}
