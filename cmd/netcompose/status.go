package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/compose/reconcile"
	"github.com/netcompose/netcompose/internal/nfqueue"
	"github.com/netcompose/netcompose/internal/service"
)

func newStatusCmd() *cobra.Command {
	var format, host, underlayNS string
	var exitCode bool
	cmd := &cobra.Command{
		Use:   "status FILE",
		Short: "Show what differs from the file, then every node, link and process of the lab (exit 2 with --exit-code when it drifted)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("status: unknown output format %q (want text or json)", format)
			}
			ctx, cancel := signalContext()
			defer cancel()
			t, err := loadTarget(cmd.CommandPath(), args[0], host)
			if err != nil {
				return err
			}
			if err := notApplied(t.slices, t.full, host, args[0]); err != nil {
				return err
			}
			st, err := reconcile.Inspect(ctx, t.reconcileTarget(), reconcile.Options{Processes: processes(), UnderlayNetns: underlayNS})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				err = enc.Encode(st)
			} else {
				err = writeStatus(w, st)
			}
			switch {
			case err != nil:
				return err
			case exitCode && len(st.Problems) > 0:
				return &exitError{code: 1}
			case exitCode && !st.InSync:
				return &exitError{code: 2}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&host, "host", "", "show this [host:NAME]'s slice of a multi-host lab")
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 0 when the lab matches the file, 2 when it drifted, 1 on error or when apply would refuse")
	underlayFlag(cmd, &underlayNS)
	return cmd
}

// writeStatus prints the status drift first: what apply would change, in
// the plan's words, and what it would refuse; then each node, the links
// and the processes.
func writeStatus(w io.Writer, st *reconcile.Status) error {
	var b strings.Builder
	if st.InSync {
		fmt.Fprintf(&b, "Lab %s: in sync with the file.\n", st.Lab)
	} else {
		add, change, destroy := st.Drift.Counts()
		fmt.Fprintf(&b, "Lab %s: drifted from the file; apply would add %d, change %d, destroy %d:\n", st.Lab, add, change, destroy)
		for _, c := range st.Drift.Changes {
			b.WriteString("  " + c.Line() + "\n")
		}
	}
	if len(st.Problems) > 0 {
		b.WriteString("Apply would refuse:\n")
		for _, p := range st.Problems {
			b.WriteString("  " + p + "\n")
		}
	}
	for _, n := range st.Nodes {
		b.WriteString("\n")
		writeNode(&b, n)
	}
	if len(st.Links) > 0 || len(st.LinkDrift) > 0 {
		state := "in sync"
		if len(st.LinkDrift) > 0 {
			state = fmt.Sprintf("drifted (%s)", changes(len(st.LinkDrift)))
		}
		fmt.Fprintf(&b, "\nlinks: %s\n", state)
		for _, r := range st.Links {
			b.WriteString("  " + r.Text() + "\n")
		}
	}
	if st.Processes != nil {
		b.WriteString("\n")
		writeProcesses(&b, st.Processes)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func changes(n int) string {
	if n == 1 {
		return "1 change"
	}
	return fmt.Sprintf("%d changes", n)
}

// writeNode prints a node: its state, every interface of its namespace
// (the kernel's view, the lab's or not), then the lab's other resources
// there. Addresses and bridge ports are the interface table's columns.
func writeNode(b *strings.Builder, n reconcile.NodeStatus) {
	state := string(n.State)
	switch {
	case n.State == reconcile.NodeMissing:
		state += ": " + n.Reason
	case len(n.Drift) > 0:
		state += " (" + changes(len(n.Drift)) + ")"
	}
	fmt.Fprintf(b, "%s (%s): %s\n", n.Node, n.Namespace, state)
	tw := tabwriter.NewWriter(b, 2, 4, 2, ' ', 0)
	for _, l := range n.Interfaces {
		master := ""
		if l.Master != "" {
			master = "master " + l.Master
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\tmtu %d\t%s\t%s\t%s\n", l.Name, l.Kind, l.State, l.MTU, l.MAC, master, strings.Join(l.Addresses, " "))
	}
	tw.Flush()
	for _, r := range n.Resources {
		if r.Kind == compose.KindAddr || r.Kind == compose.KindMaster {
			continue
		}
		b.WriteString("  " + r.Text() + "\n")
	}
}

// writeProcesses prints the lab's supervisor and each component with its
// counters.
func writeProcesses(b *strings.Builder, ps *reconcile.ProcessStatus) {
	switch {
	case ps.Running:
		fmt.Fprintf(b, "processes: supervisor pid %d, up %s\n", ps.PID, since(ps.Started))
	case ps.PID == 0:
		b.WriteString("processes: supervisor not running (none started): apply starts it\n")
	case ps.Error != "":
		fmt.Fprintf(b, "processes: supervisor pid %d not answering (%s)\n", ps.PID, ps.Error)
	default:
		fmt.Fprintf(b, "processes: supervisor not running (pid %d is gone): apply starts it again\n", ps.PID)
	}
	for _, c := range ps.Components {
		fmt.Fprintf(b, "  %s %s in %s: %s", c.Kind, c.Name, c.Node, c.State)
		if c.State == "running" {
			fmt.Fprintf(b, ", up %s", since(c.Since))
		}
		if c.Restarts > 0 {
			fmt.Fprintf(b, ", restarted by apply %d times", c.Restarts)
		}
		if c.Error != "" {
			fmt.Fprintf(b, ", error: %s", c.Error)
		}
		b.WriteString("\n")
		switch {
		case c.Queue != nil:
			writeQueue(b, c.Queue)
		case c.Service != nil:
			writeService(b, c.Service)
		}
	}
}

func writeQueue(b *strings.Builder, q *nfqueue.Stats) {
	var verdicts []string
	for _, k := range slices.Sorted(maps.Keys(q.Verdicts)) {
		verdicts = append(verdicts, fmt.Sprintf("%s %d", k, q.Verdicts[k]))
	}
	fmt.Fprintf(b, "    packets %d; verdicts: %s; fallthrough %d\n", q.Packets, strings.Join(verdicts, ", "), q.Fallthrough)
	if n := q.DecodeErrors + q.ReceiveErrors + q.VerdictErrors; n > 0 {
		fmt.Fprintf(b, "    errors: decode %d, receive %d, verdict %d\n", q.DecodeErrors, q.ReceiveErrors, q.VerdictErrors)
	}
	for _, s := range q.Stages {
		fmt.Fprintf(b, "    stage %s (%s): seen %d, accept %d, drop %d", s.Name, s.Kind, s.Seen, s.Accept, s.Drop)
		for _, k := range slices.Sorted(maps.Keys(s.Counters)) {
			fmt.Fprintf(b, ", %s %d", k, s.Counters[k])
		}
		b.WriteString("\n")
	}
	for _, qu := range q.Queues {
		bound := "not bound"
		if qu.Bound {
			bound = "bound"
		}
		fmt.Fprintf(b, "    queue %d: %s, packets %d, waiting %d, queue_dropped %d, user_dropped %d\n",
			qu.Queue, bound, qu.Packets, qu.Waiting, qu.QueueDropped, qu.UserDropped)
	}
	if q.KernelError != "" {
		fmt.Fprintf(b, "    kernel counters: %s\n", q.KernelError)
	}
}

func writeService(b *strings.Builder, s *service.Stats) {
	fmt.Fprintf(b, "    state %s", s.State)
	if s.Uptime > 0 {
		fmt.Fprintf(b, ", uptime %s", s.Uptime.Round(time.Second))
	}
	fmt.Fprintf(b, ", restarts %d", s.Restarts)
	if s.PID != 0 {
		fmt.Fprintf(b, ", pid %d", s.PID)
	}
	fmt.Fprintf(b, "; connections %d (%d in all, %d rejected); messages in %d, out %d\n",
		s.Connections, s.ConnectionsTotal, s.Rejected, s.MessagesIn, s.MessagesOut)
	if s.LastExit != "" {
		fmt.Fprintf(b, "    last exit: %s\n", s.LastExit)
	}
}

// since is how long ago t was, to the second.
func since(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return time.Since(t).Round(time.Second).String()
}
