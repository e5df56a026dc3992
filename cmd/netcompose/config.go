package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/loader"
)

func newConfigCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "config FILE",
		Short: "Print the fully resolved lab (DEFAULT, set, get, use and interpolation applied)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, lab, err := loadLabFile(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			switch format {
			case "ini":
				return loader.WriteINI(w, f)
			case "yaml":
				return loader.WriteYAML(w, f)
			case "json":
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(compose.Config(f, lab))
			}
			return fmt.Errorf("config: unknown output format %q (want ini, yaml or json)", format)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "ini", "output format: ini, yaml or json")
	return cmd
}

func newGraphCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph FILE",
		Short: "Draw the lab as a Graphviz DOT or Mermaid graph",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lab, err := loadLab(args[0])
			if err != nil {
				return err
			}
			switch format {
			case "dot":
				return compose.WriteDOT(cmd.OutOrStdout(), lab)
			case "mermaid":
				return compose.WriteMermaid(cmd.OutOrStdout(), lab)
			}
			return fmt.Errorf("graph: unknown output format %q (want dot or mermaid)", format)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "dot", "output format: dot or mermaid")
	return cmd
}
