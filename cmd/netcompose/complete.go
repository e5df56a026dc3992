package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/kernel"
)

// Shell completion (netcompose completion bash|zsh|fish) completes more
// than file names: a command's positional arguments by what its usage
// line names them — FILE a topology file, NODE a node of that file's lab,
// CHECK one of its [check:] sections — and the flags --host (the lab's
// [host:] sections) and --lab (the labs applied on this machine).

// addCompletions gives every command of root its completions.
func addCompletions(root *cobra.Command) {
	for _, c := range root.Commands() {
		if ps := positionals(c.Use); c.ValidArgsFunction == nil && len(ps) > 0 {
			c.ValidArgsFunction = completeArgs(ps)
		}
		if c.Flags().Lookup("host") != nil {
			_ = c.RegisterFlagCompletionFunc("host", completeHosts)
		}
		if c.Flags().Lookup("lab") != nil {
			_ = c.RegisterFlagCompletionFunc("lab", completeLabs)
		}
	}
}

// positionals names a command's positional arguments from its usage line:
// "exec FILE NODE [--] CMD [ARGS...]" gives FILE NODE CMD ARGS...; an
// argument that repeats ends in "...".
func positionals(use string) []string {
	var out []string
	for _, w := range strings.Fields(use)[1:] {
		w = strings.Trim(w, "[]")
		if w == "--" || strings.HasPrefix(w, "-") {
			continue
		}
		out = append(out, w)
	}
	return out
}

// completeArgs completes the argument at each position by its name.
func completeArgs(names []string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		name := ""
		switch i := len(args); {
		case i < len(names):
			name = names[i]
		case strings.HasSuffix(names[len(names)-1], "..."):
			name = names[len(names)-1]
		}
		switch strings.TrimSuffix(name, "...") {
		case "FILE":
			return []cobra.Completion{"ini", "yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		case "NODE":
			return fromLab(args, func(l *compose.Lab) []string {
				var out []string
				for _, n := range l.Nodes {
					out = append(out, n.Name)
				}
				return out
			})
		case "CHECK":
			return fromLab(args, func(l *compose.Lab) []string {
				var out []string
				for _, c := range l.Checks {
					if !slices.Contains(args[1:], c.Name) {
						out = append(out, c.Name)
					}
				}
				return out
			})
		}
		return nil, cobra.ShellCompDirectiveDefault
	}
}

// fromLab completes with names taken from the lab of the file given as
// the first argument; nothing when there is none or it does not load.
func fromLab(args []string, names func(*compose.Lab) []string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	lab, err := loadLab(args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return names(lab), cobra.ShellCompDirectiveNoFileComp
}

// completeHosts completes --host with the [host:] sections of the lab in
// the first argument.
func completeHosts(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return fromLab(args, func(l *compose.Lab) []string {
		var out []string
		for _, h := range l.Hosts {
			out = append(out, h.Name)
		}
		return out
	})
}

// completeLabs completes --lab with the labs applied on this machine, by
// the names destroy --lab takes (LAB, or LAB@HOST for a host's slice).
func completeLabs(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	keys, err := kernel.Keys()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, k := range keys {
		out = append(out, k)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
