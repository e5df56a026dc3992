package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/bpf"
)

// Filters are pcap-filter expressions ("udp port 53", "arp or icmp"),
// compiled by tcpdump -ddd: libpcap's own compiler, so an expression means
// exactly what it means to tcpdump and Wireshark, at the price of needing
// tcpdump installed where the capture runs (scripts/setup installs it). A
// pure-Go compiler of the whole pcap-filter language would be a project of
// its own; a subset would accept expressions it then gets wrong.

// ErrNoCompiler is returned by Compile when tcpdump is not installed.
var ErrNoCompiler = errors.New("compiling a filter needs tcpdump (libpcap's compiler), which is not installed: apt-get install tcpdump")

// FilterError is an expression tcpdump refused, with what it said.
type FilterError struct {
	Expr   string
	Reason string
}

func (e *FilterError) Error() string {
	return fmt.Sprintf("filter %q: %s", e.Expr, e.Reason)
}

// Compile turns a pcap-filter expression into a classic BPF program for
// Ethernet frames that keeps snaplen bytes of each packet it accepts.
func Compile(ctx context.Context, expr string, snaplen int) ([]bpf.RawInstruction, error) {
	if snaplen <= 0 {
		snaplen = DefaultSnaplen
	}
	path, err := exec.LookPath("tcpdump")
	if err != nil {
		return nil, ErrNoCompiler
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// -y EN10MB: no interface to open, the link type is given.
	cmd := exec.CommandContext(ctx, path, "-y", "EN10MB", "-s", strconv.Itoa(snaplen), "-ddd", "--", expr)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		reason := strings.TrimSpace(errb.String())
		if reason == "" {
			reason = err.Error()
		}
		return nil, &FilterError{Expr: expr, Reason: reason}
	}
	prog, err := parseDDD(out.String())
	if err != nil {
		return nil, &FilterError{Expr: expr, Reason: "tcpdump -ddd: " + err.Error()}
	}
	return prog, nil
}

// parseDDD reads tcpdump -ddd's output: the number of instructions, then
// one "code jt jf k" line each, in decimal.
func parseDDD(s string) ([]bpf.RawInstruction, error) {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	n, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || n <= 0 || n > maxInstructions {
		return nil, fmt.Errorf("bad instruction count %q", lines[0])
	}
	if len(lines)-1 != n {
		return nil, fmt.Errorf("%d instructions announced, %d given", n, len(lines)-1)
	}
	prog := make([]bpf.RawInstruction, n)
	for i, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 4 {
			return nil, fmt.Errorf("instruction %d: %q is not \"code jt jf k\"", i, l)
		}
		var v [4]uint64
		for j, w := range f {
			bits := []int{16, 8, 8, 32}[j]
			if v[j], err = strconv.ParseUint(w, 10, bits); err != nil {
				return nil, fmt.Errorf("instruction %d: %q: %w", i, l, err)
			}
		}
		prog[i] = bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])}
	}
	return prog, nil
}

// maxInstructions is the kernel's BPF_MAXINSNS for classic programs.
const maxInstructions = 4096
