package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose/kernel"
)

func newListCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the labs netcompose has applied on this machine",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			labs, err := kernel.Labs()
			if err != nil {
				return err
			}
			switch format {
			case "json":
				// {"labs": [...]}, never null: each lab's name (LAB or
				// LAB@HOST), its nodes, those whose namespace is gone,
				// and why its record could not be read.
				if labs == nil {
					labs = []kernel.LabInfo{}
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Labs []kernel.LabInfo `json:"labs"`
				}{labs})
			case "text", "":
			default:
				return fmt.Errorf("list: unknown output format %q (want text or json)", format)
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
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json")
	return cmd
}
