package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/netcompose/netcompose/compose/kernel"
)

// execParallel is how many nodes exec --all runs the command in at once.
const execParallel = 8

// execAll runs argv in every node of the lab in path (of host's slice),
// each line of its output prefixed with the node. The exit is 0 when it
// succeeded everywhere, else that of the first node, in file order, where
// it did not; the failures are listed on stderr.
func execAll(cmd *cobra.Command, path, host string, argv []string) error {
	t, err := loadTarget(cmd.CommandPath(), path, host, append([]string{"--all", "--"}, argv...)...)
	if err != nil {
		return err
	}
	if err := notApplied(t.slices, t.full, host, path); err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	width := 0
	for _, n := range t.lab.Nodes {
		width = max(width, len(n.Name))
	}
	var mu sync.Mutex // one line at a time on stdout and stderr
	type result struct {
		code int
		err  error
	}
	results := make([]result, len(t.lab.Nodes))
	sem := make(chan struct{}, execParallel)
	var wg sync.WaitGroup
	for i, n := range t.lab.Nodes {
		prefix := fmt.Sprintf("%-*s | ", width, n.Name)
		out := &linePrefixer{mu: &mu, w: cmd.OutOrStdout(), prefix: prefix}
		errw := &linePrefixer{mu: &mu, w: cmd.ErrOrStderr(), prefix: prefix}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c := nodeCommand(ctx, t, n.Name, argv[0], argv[1:]...)
			c.Stdout, c.Stderr = out, errw
			code, err := kernel.Run(t.name, n.Name, c)
			out.Close()
			errw.Close()
			results[i] = result{code, err}
		}()
	}
	wg.Wait()
	var first error
	var failed []string
	for i, r := range results {
		if r.err == nil && r.code == 0 {
			continue
		}
		name := t.lab.Nodes[i].Name
		if r.err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", name, r.err))
		} else {
			failed = append(failed, fmt.Sprintf("%s: exit %d", name, r.code))
		}
		if first == nil {
			first = exitWith(r.code, r.err)
		}
	}
	if first == nil {
		return nil
	}
	code := 1
	if ee, ok := first.(*exitError); ok {
		code = ee.code
	}
	return &exitError{code: code, err: fmt.Errorf("exec --all: failed in %d of %d nodes: %s", len(failed), len(results), strings.Join(failed, "; "))}
}

// linePrefixer writes each whole line written to it to w, with prefix,
// under mu: the lines of several writers interleave but never mix.
type linePrefixer struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *linePrefixer) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	i := bytes.LastIndexByte(p.buf, '\n')
	if i < 0 {
		return len(b), nil
	}
	p.emit(p.buf[:i+1])
	p.buf = append(p.buf[:0], p.buf[i+1:]...)
	return len(b), nil
}

// Close writes what is left of a last line without its newline.
func (p *linePrefixer) Close() {
	if len(p.buf) > 0 {
		p.emit(append(p.buf, '\n'))
		p.buf = nil
	}
}

func (p *linePrefixer) emit(lines []byte) {
	var b bytes.Buffer
	for _, l := range bytes.SplitAfter(lines, []byte("\n")) {
		if len(l) > 0 {
			b.WriteString(p.prefix)
			b.Write(l)
		}
	}
	p.mu.Lock()
	p.w.Write(b.Bytes())
	p.mu.Unlock()
}
