package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/internal/importer"
	"github.com/netcompose/netcompose/internal/nsrun"
)

func newImportCmd() *cobra.Command {
	var lab, format string
	var namespaces []string
	var deriveMACs bool
	cmd := &cobra.Command{
		Use:   "import NETNS...",
		Short: "Write the topology file that rebuilds namespaces built by hand (ip netns, ip link, ip addr, ...)",
		Long: `Read network namespaces someone built by hand with ip commands — their links,
veth peers across them, bridges, VXLAN devices, addresses, routes, policy
rules, sysctls (ARP ones included) and static neighbours — and write the
topology file that rebuilds them, on stdout. What the file cannot say is
written as "# not imported: ..." comments before the section it concerns.

Each namespace becomes a node: NODE=NETNS names it; otherwise when every
namespace starts with LAB- (--lab, or the prefix they share) the node is
the rest, so that the rebuilt lab's namespaces, <lab>-<node>, have the
same names (destroy the hand-built ones before applying); else the node
is the namespace's name and the lab is "imported".

  netcompose import demo-client demo-fw demo-server > demo.ini`,
		Args: cobra.ArbitraryArgs,
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return namespaceNames(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			all := append(append([]string{}, namespaces...), args...)
			if len(all) == 0 {
				return fmt.Errorf("import: name the namespaces to import (ip netns list shows them)")
			}
			name, sources, err := importer.Sources(lab, all)
			if err != nil {
				return err
			}
			snap, err := importer.Read(sources)
			if err != nil {
				return err
			}
			f := importer.Build(name, snap, importer.BuildOptions{
				DeriveMACs: deriveMACs,
				Command:    "netcompose import " + strings.Join(quoteAll(all), " "),
			})
			return importer.Write(cmd.OutOrStdout(), f, format)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&namespaces, "netns", nil, "a namespace to import, NETNS or NODE=NETNS (repeatable, or comma separated; plain arguments work too)")
	fl.StringVar(&lab, "lab", "", "the lab's name (default: the LAB- prefix every namespace shares, else \"imported\")")
	fl.StringVarP(&format, "output", "o", "ini", "output format: ini or yaml")
	fl.BoolVar(&deriveMACs, "derive-macs", false, "leave MACs out, for netcompose to derive them from the names (default: keep each interface's MAC)")
	return cmd
}

// namespaceNames are the named namespaces, as ip netns list shows them.
func namespaceNames() []cobra.Completion {
	entries, _ := os.ReadDir(nsrun.Dir)
	var out []cobra.Completion
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func quoteAll(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = shellQuote(w)
	}
	return out
}
