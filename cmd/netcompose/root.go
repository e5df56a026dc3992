package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// command is a subcommand of netcompose, by the name it is run with.
type command struct {
	name string
	make func() *cobra.Command
}

var commands = []command{
	{"validate", newValidateCmd},
	{"config", newConfigCmd},
	{"graph", newGraphCmd},
	{"inventory", newInventoryCmd},
	{"diff", newDiffCmd},
	{"apply", newApplyCmd},
	{"destroy", newDestroyCmd},
	{"status", newStatusCmd},
	{"list", newListCmd},
	{"exec", newExecCmd},
	{"capture", newCaptureCmd},
	{"import", newImportCmd},
	{"doctor", newDoctorCmd},
	{"test", newTestCmd},
	{"supervise", newSuperviseCmd},
	{"logs", newLogsCmd},
	{"watch", newWatchCmd},
	{"version", newVersionCmd},
}

// newRootCmd is netcompose's command tree for a run with args: the root
// with every subcommand, or only the one args[0] names.
func newRootCmd(args ...string) *cobra.Command {
	root := &cobra.Command{
		Use:   "netcompose",
		Short: "Compose Linux network labs from a declarative file",
		Long: `netcompose turns a PasteDeploy-style INI or YAML topology file into a running
network lab on this Linux kernel: network namespaces as hosts, veth links,
bridges with VLANs and port groups, VXLAN overlays, routes, rules, ARP
settings, link impairments, NFQUEUE pipelines and services inside the nodes.

  netcompose validate lab.ini    check the file, report every error
  netcompose diff lab.ini        show what apply would change
  netcompose apply lab.ini       converge the kernel to the file
  netcompose test lab.ini        run the lab's checks against it
  netcompose status lab.ini      what runs, and what drifted from the file
  netcompose destroy lab.ini     remove every trace of the lab`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	subs := commands
	if len(args) > 0 {
		// A run builds the command it runs, not the other seventeen
		// (a fifth of a millisecond of every start); help, completion,
		// --version and anything unknown get the whole tree.
		if i := slices.IndexFunc(commands, func(c command) bool { return c.name == args[0] }); i >= 0 {
			subs = commands[i : i+1]
			root.CompletionOptions.DisableDefaultCmd = true
		}
	}
	for _, c := range subs {
		root.AddCommand(c.make())
	}
	if len(subs) > 1 {
		// --version is the root's own flag: no use under a subcommand.
		root.Version = version()
		root.SetVersionTemplate("{{.Version}}\n")
	}
	addSetFlag(root)
	addCompletions(root)
	// Argument and flag mistakes name the command and show its usage line,
	// since SilenceUsage keeps cobra from printing the whole help.
	for _, c := range root.Commands() {
		c.PersistentPreRunE = func(cmd *cobra.Command, args []string) error { return checkPrivilege(cmd) }
		if v := c.Args; v != nil {
			c.Args = func(cmd *cobra.Command, args []string) error {
				if err := v(cmd, args); err != nil {
					return fmt.Errorf("%s: %w (usage: %s)", cmd.Name(), err, cmd.UseLine())
				}
				return nil
			}
		}
	}
	// main prefixes every error with "netcompose:"; the root command's
	// own flag errors need no second one.
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		if cmd == root {
			return fmt.Errorf("%w (see netcompose --help)", err)
		}
		return fmt.Errorf("%s: %w (see %s --help)", cmd.Name(), err, cmd.CommandPath())
	})
	return root
}

// isTerminal reports whether f is a terminal (progress bars only there).
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// useColor reports whether to colour what goes to f: only on a terminal,
// and not when NO_COLOR is set (no-color.org) or TERM is dumb.
func useColor(f *os.File) bool {
	return isTerminal(f) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}
