package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/kernel"
)

func newStatusCmd() *cobra.Command {
	var format, host string
	cmd := &cobra.Command{
		Use:   "status FILE",
		Short: "Show each node's interfaces, addresses and routes, and whether the lab drifted from the file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			t, err := loadTarget(args[0], host)
			if err != nil {
				return err
			}
			if err := applied(t.name, args[0], host); err != nil {
				return err
			}
			nodes, err := kernel.Inspect(ctx, t.name)
			if err != nil {
				return err
			}
			p, err := plan(ctx, t)
			if err != nil {
				return err
			}
			drift := driftByNode(p)
			w := cmd.OutOrStdout()
			if format == "json" {
				type nodeJSON struct {
					kernel.NodeStatus
					Drift []compose.Change `json:"drift"`
				}
				out := struct {
					Lab   string     `json:"lab"`
					Nodes []nodeJSON `json:"nodes"`
					Drift bool       `json:"drifted"`
				}{Lab: t.name, Drift: !p.Empty()}
				for _, n := range nodes {
					out.Nodes = append(out.Nodes, nodeJSON{NodeStatus: n, Drift: drift[n.Node]})
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			for _, n := range nodes {
				state := "in sync"
				if d := drift[n.Node]; len(d) > 0 {
					state = fmt.Sprintf("drifted (%d changes pending)", len(d))
				}
				fmt.Fprintf(w, "%s (%s): %s\n", n.Node, n.Namespace, state)
				tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
				for _, l := range n.Interfaces {
					fmt.Fprintf(tw, "  %s\t%s\t%s\tmtu %d\t%s\t%s\n", l.Name, l.Kind, l.State, l.MTU, l.MAC, strings.Join(l.Addresses, " "))
				}
				for _, r := range n.Routes {
					line := "  route\t" + r.Dst
					if r.Via != "" {
						line += " via " + r.Via
					}
					if r.Dev != "" {
						line += " dev " + r.Dev
					}
					fmt.Fprintln(tw, line)
				}
				tw.Flush()
			}
			if p.Empty() {
				fmt.Fprintln(w, "No drift: the kernel matches the file.")
			} else {
				add, change, destroy := p.Counts()
				fmt.Fprintf(w, "Drift: apply would add %d, change %d, destroy %d (see netcompose diff).\n", add, change, destroy)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&host, "host", "", "show this [host:NAME]'s slice of a multi-host lab")
	return cmd
}

// driftByNode groups a plan's changes by the node they touch ("" for
// lab-level resources such as veth pairs, which count for both ends).
func driftByNode(p compose.Plan) map[string][]compose.Change {
	m := map[string][]compose.Change{}
	for _, c := range p.Changes {
		r := c.Resource()
		if ends := r.Ends(); r.Kind == compose.KindVeth {
			for _, e := range ends {
				m[e.Node] = append(m[e.Node], c)
			}
			continue
		}
		m[r.Node] = append(m[r.Node], c)
	}
	return m
}

func newListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the labs netcompose has applied on this machine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			labs, err := kernel.Labs()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "LAB\tNODES")
			for _, l := range labs {
				if l.Error != "" {
					fmt.Fprintf(tw, "%s\t?\t%s\n", l.Name, l.Error)
					continue
				}
				fmt.Fprintf(tw, "%s\t%d\n", l.Name, len(l.Nodes))
			}
			return tw.Flush()
		},
	}
}

func newExecCmd() *cobra.Command {
	var host string
	cmd := &cobra.Command{
		Use:   "exec FILE NODE [--] CMD [ARGS...]",
		Short: "Run a command inside a node's namespace; its exit code is passed through",
		Args:  cobra.MinimumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			t, err := loadTarget(args[0], host)
			if err != nil {
				return err
			}
			node, argv := args[1], args[2:]
			if argv[0] == "--" {
				// with flags not interspersed, cobra keeps the "--"
				argv = argv[1:]
			}
			if len(argv) == 0 {
				return fmt.Errorf("exec: no command to run (exec FILE NODE -- CMD [ARGS...])")
			}
			if _, ok := t.lab.Node(node); !ok {
				return fmt.Errorf("exec: lab %q has no node %q", t.lab.Name, node)
			}
			if err := applied(t.name, args[0], host); err != nil {
				return err
			}
			code, err := kernel.Exec(ctx, t.name, node, argv, kernel.Stdio{In: os.Stdin, Out: cmd.OutOrStdout(), Err: cmd.ErrOrStderr()})
			switch {
			case errors.Is(err, exec.ErrNotFound):
				// as a shell does: 127 for a command not found, 126 for
				// one that cannot run
				return &exitError{code: 127, err: err}
			case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.ENOEXEC):
				return &exitError{code: 126, err: err}
			case err != nil:
				return err
			}
			if code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&host, "host", "", "the node is in this [host:NAME]'s slice of a multi-host lab")
	// Flags after NODE belong to the command: exec lab.ini a ip -br addr.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// applied fails with the command to run when the lab (key, as
// compose.StateKey names it) has no state record on this machine.
func applied(key, path, host string) error {
	labs, err := kernel.Labs()
	if err != nil {
		return err
	}
	if slices.ContainsFunc(labs, func(l kernel.LabInfo) bool { return l.Name == key }) {
		return nil
	}
	if host != "" {
		return fmt.Errorf("lab %s is not applied on this machine: run netcompose apply --host %s %s", key, host, path)
	}
	return fmt.Errorf("lab %s is not applied on this machine: run netcompose apply %s", key, path)
}
