package main

import (
	"slices"
	"testing"

	"github.com/spf13/pflag"
)

// TestCommandsByName: each command is built under the name it is run with,
// a run of one builds only that one (with the same flags as in the whole
// tree), and anything else gets the whole tree.
func TestCommandsByName(t *testing.T) {
	whole := newRootCmd()
	if got := len(whole.Commands()); got != len(commands) {
		t.Errorf("the whole tree has %d commands, want %d", got, len(commands))
	}
	for _, c := range commands {
		if got := c.make().Name(); got != c.name {
			t.Errorf("command %q is built as %q", c.name, got)
		}
		root := newRootCmd(c.name, "x")
		subs := root.Commands()
		if len(subs) != 1 || subs[0].Name() != c.name {
			t.Errorf("a run of %s built %d commands", c.name, len(subs))
			continue
		}
		sub, _, err := whole.Find([]string{c.name})
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		sub.Flags().VisitAll(func(f *pflag.Flag) { want = append(want, f.Name) })
		subs[0].Flags().VisitAll(func(f *pflag.Flag) { got = append(got, f.Name) })
		if !slices.Equal(want, got) {
			t.Errorf("%s: flags %v alone, %v in the whole tree", c.name, got, want)
		}
	}
	for _, args := range [][]string{{"help", "apply"}, {"--help"}, {"--version"}, {"__complete", "ap"}, {"aply"}} {
		root := newRootCmd(args...)
		if got := len(root.Commands()); got != len(commands) || root.Version == "" {
			t.Errorf("%v: %d commands, version %q; want the whole tree and --version", args, got, root.Version)
		}
	}
}
