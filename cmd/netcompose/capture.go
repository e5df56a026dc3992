package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/net/bpf"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/capture"
	"github.com/netcompose/netcompose/internal/nsrun"
)

// captureFlags are capture's options.
type captureFlags struct {
	host, write, filter string
	count, snaplen      int
	bufferMiB           int
	link, noPromisc     bool
}

func newCaptureCmd() *cobra.Command {
	var f captureFlags
	cmd := &cobra.Command{
		Use:   "capture FILE NODE[:IF]",
		Short: "Capture packets inside a node: one line per packet, or pcap with -w (- for stdout)",
		Long: `Capture packets inside a node's namespace with an AF_PACKET socket (no tcpdump
needed in the node): on interface IF, or on every interface of the node.

Without -w, each packet is one line on stdout, MAC addresses named by the lab
interface that has them. With -w FILE the packets go to a pcap file (pcapng,
which keeps each packet's interface, when capturing a whole node); -w - writes
them to stdout:

  netcompose capture lab.ini firewall:cli --filter arp
  netcompose capture lab.ini server:eth0 -w - | wireshark -k -i -

--filter takes a pcap-filter expression (as tcpdump and Wireshark's capture
filters), compiled by tcpdump -ddd when tcpdump is installed.`,
		Args: cobra.ExactArgs(2),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return []cobra.Completion{"ini", "yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
			}
			if len(args) > 1 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return fromLab(args, func(l *compose.Lab) []string {
				var out []string
				for _, n := range l.Nodes {
					out = append(out, n.Name)
				}
				return out
			})
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCapture(cmd, args[0], args[1], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.write, "write", "w", "", "write the packets to this pcap file (- for stdout) instead of one line each")
	fl.IntVarP(&f.count, "count", "c", 0, "stop after this many packets (0: until ctrl-C)")
	fl.StringVarP(&f.filter, "filter", "f", "", "a pcap-filter expression, as tcpdump takes (\"arp or icmp\", \"udp port 4789\")")
	fl.IntVarP(&f.snaplen, "snaplen", "s", capture.DefaultSnaplen, "bytes kept of each packet")
	fl.IntVar(&f.bufferMiB, "buffer", capture.DefaultBuffer>>20, "MiB of ring buffer the kernel fills while the capture writes")
	fl.BoolVarP(&f.link, "link", "e", false, "lines show the Ethernet addresses of every packet, not only of ARP and non-IP")
	fl.BoolVar(&f.noPromisc, "no-promisc", false, "leave the interface's promiscuous mode off")
	fl.StringVar(&f.host, "host", "", "the node is in this [host:NAME]'s slice of a multi-host lab")
	return cmd
}

func runCapture(cmd *cobra.Command, path, where string, f captureFlags) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if f.snaplen <= 0 || f.bufferMiB <= 0 || f.count < 0 {
		return errors.New("capture: --snaplen and --buffer must be positive, --count not negative")
	}
	node, ifname, _ := strings.Cut(where, ":")
	lab, err := loadLab(path)
	if err != nil {
		return err
	}
	if _, ok := lab.Node(node); !ok {
		return fmt.Errorf("capture: lab %q has no node %q", lab.Name, node)
	}
	if err := checkNode(cmd.CommandPath(), lab, f.host, node, path, nil); err != nil {
		return err
	}
	t, err := targetOf(cmd.CommandPath(), lab, path, f.host, where)
	if err != nil {
		return err
	}
	if err := notApplied(t.slices, t.full, f.host, path); err != nil {
		return err
	}
	var prog []bpf.RawInstruction
	if f.filter != "" {
		if prog, err = capture.Compile(ctx, f.filter, f.snaplen); err != nil {
			return fmt.Errorf("capture: %w", err)
		}
	}
	ns := lab.Namespace(node)
	s, err := capture.Open(nsrun.Path(ns), ifname, capture.Options{Snaplen: f.snaplen, Filter: prog, Buffer: f.bufferMiB << 20, NoPromisc: f.noPromisc})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("capture: node %s of lab %s has no namespace %s: apply the lab first", node, lab.Name, ns)
		}
		return err
	}
	defer s.Close()
	w, closeOut, err := captureWriter(cmd, s, t.lab, ifname, f)
	if err != nil {
		return err
	}
	on := where
	if ifname == "" {
		on = "every interface of " + node
	}
	msg := fmt.Sprintf("capture: listening on %s in lab %s (netns %s)", on, t.name, ns)
	if f.filter != "" {
		msg += fmt.Sprintf(", filter %q", f.filter)
	}
	fmt.Fprintln(cmd.ErrOrStderr(), msg+"; ctrl-C stops")
	// A reader that goes away (wireshark closed) ends the capture: the
	// write fails with EPIPE instead of the signal killing netcompose
	// before it says what it captured.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	n, err := capture.Copy(ctx, s, w, f.count)
	if errors.Is(err, syscall.EPIPE) {
		err = nil
	}
	err = errors.Join(err, closeOut())
	s.Close()
	st, serr := s.Stats()
	fmt.Fprintf(cmd.ErrOrStderr(), "capture: %s captured, %s received by the filter, %s dropped by the kernel%s\n",
		plural(n, "packet"), plural(int(st.Received), "packet"), plural(int(st.Dropped), "packet"), dropHint(st))
	return errors.Join(err, serr)
}

// captureWriter is where the packets go: a pcap (one interface) or
// pcapng (a whole node) file or stdout with -w, else lines on stdout.
func captureWriter(cmd *cobra.Command, s *capture.Socket, lab *compose.Lab, ifname string, f captureFlags) (capture.Writer, func() error, error) {
	none := func() error { return nil }
	if f.write == "" {
		names, err := capture.Names(nodeNamespaces(lab))
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "note: MAC addresses are not all named: %v\n", err)
		}
		return capture.NewText(cmd.OutOrStdout(), capture.TextOptions{Interface: ifname == "", Link: f.link, Names: names}), none, nil
	}
	out, closeOut := io.Writer(cmd.OutOrStdout()), none
	if f.write != "-" {
		file, err := os.Create(f.write)
		if err != nil {
			return nil, nil, fmt.Errorf("capture: %w", err)
		}
		out, closeOut = file, file.Close
	}
	var w capture.Writer
	var err error
	if ifname != "" {
		w, err = capture.NewPcap(out, f.snaplen)
	} else {
		w, err = capture.NewPcapng(out, f.snaplen, s.Interfaces())
	}
	if err != nil {
		closeOut()
		return nil, nil, fmt.Errorf("capture: %s: %w", f.write, err)
	}
	return w, closeOut, nil
}

// nodeNamespaces are the namespace paths of the lab's nodes, by node.
func nodeNamespaces(lab *compose.Lab) map[string]string {
	m := make(map[string]string, len(lab.Nodes))
	for _, n := range lab.Nodes {
		m[n.Name] = nsrun.Path(lab.Namespace(n.Name))
	}
	return m
}

func dropHint(st capture.Stats) string {
	if st.Dropped == 0 {
		return ""
	}
	return " (the ring was full: a larger --buffer, a --filter, or -w to a file keeps up better)"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
