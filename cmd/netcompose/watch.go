package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/internal/supervisor"
)

func newWatchCmd() *cobra.Command {
	var host, format string
	cmd := &cobra.Command{
		Use:   "watch FILE",
		Short: "Print the lab's events (components started, stopped, failed; applies) as they happen, until ctrl-C",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("watch: unknown output format %q (want text or json)", format)
			}
			ctx, cancel := signalContext()
			defer cancel()
			dir, err := targetDir(cmd, args[0], host, args[1:]...)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			enc := json.NewEncoder(w)
			// Watch reconnects by itself when the supervisor restarts;
			// only ctrl-C ends it.
			return supervisor.Watch(ctx, dir, func(e supervisor.Event) {
				if format == "json" {
					_ = enc.Encode(e)
					return
				}
				writeEvent(w, e)
			})
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "event format: text, or json (one object a line)")
	cmd.Flags().StringVar(&host, "host", "", "watch this [host:NAME]'s slice of a multi-host lab")
	return cmd
}

// writeEvent prints one event a line: time, kind, component, then its
// data as key=value in key order.
func writeEvent(w io.Writer, e supervisor.Event) {
	var b strings.Builder
	b.WriteString(e.Time.Local().Format("15:04:05.000"))
	b.WriteString("  " + e.Kind)
	if e.Component != "" {
		b.WriteString("  " + e.Component)
	}
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s=%s", k, eventValue(e.Data[k]))
	}
	fmt.Fprintln(w, b.String())
}

// eventValue shows a value of an event's data: strings quoted only when
// they hold spaces, everything else as JSON.
func eventValue(v any) string {
	if s, ok := v.(string); ok {
		if strings.ContainsAny(s, " \t\n\"=") || s == "" {
			return fmt.Sprintf("%q", s)
		}
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
