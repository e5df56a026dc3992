// Command star times the netcompose CLI end to end against the usable
// floor, in one run on one machine: it builds the netcompose binary once,
// writes star labs (a hub joined to N leaves by veths with /30s) as INI
// files, and runs `netcompose apply`, a no-op re-apply and `netcompose
// destroy` as separate processes, timed from outside, next to the same
// star built by package floor (raw netlink until every veth end is
// operationally up) in a process of its own. Each cell is the median of
// the repeats (four times as many at N <= 10); the runs alternate which
// goes first.
//
// As root:
//
//	go run ./bench/star                  # N = 10, 100, 300, 1000; Mininet-like and IPv6 rows
//	go run ./bench/star -big             # and N = 10,000 with RSS
//	go run ./bench/star -n 300 -repeat 9 # one size
//
// It writes the table to stdout (and -o FILE). Every namespace it makes is
// named nb<pid>-...; they are removed on the way out, on failure and on
// interrupt too. See docs/performance.md.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/netcompose/netcompose/bench/floor"
)

func main() {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "floor-") {
		os.Exit(floorMain(os.Args[1:]))
	}
	os.Exit(run())
}

// floorMain is the floor as a process of its own, so that it is timed
// from outside like the CLI: "floor-apply LAB N" or "floor-destroy LAB".
func floorMain(args []string) int {
	var err error
	switch {
	case args[0] == "floor-apply" && (len(args) == 3 || len(args) == 4):
		// floor-apply LAB N [ipv6-off-hub|ipv6-off-all]
		var n int
		if n, err = strconv.Atoi(args[2]); err == nil {
			opt := floor.Options{Timeout: time.Minute}
			if len(args) == 4 {
				opt.IPv6Off, opt.IPv6OffLeaves = true, args[3] == "ipv6-off-all"
			}
			err = floor.Star(args[1], floor.StarLinks(n), opt)
		}
	case args[0] == "floor-destroy" && len(args) == 2:
		err = floor.Destroy(args[1])
	default:
		err = fmt.Errorf("usage: floor-apply LAB N [ipv6-off-hub|ipv6-off-all] | floor-destroy LAB")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		return 1
	}
	return 0
}

type options struct {
	sizes   []int
	repeat  int
	big     bool
	mininet bool
	ipv6    bool
	out     string
	bin     string
}

func run() int {
	var o options
	var sizes string
	flag.StringVar(&sizes, "n", "10,100,300,1000", "star sizes (leaves), comma-separated")
	flag.IntVar(&o.repeat, "repeat", 5, "runs per cell (the median is reported); N <= 10 runs four times as many, N >= 10,000 once")
	flag.BoolVar(&o.big, "big", false, "add N = 10,000 (about two minutes more) with RSS, and its IPv6-off run")
	flag.BoolVar(&o.mininet, "mininet", true, "add the Mininet-like lab: 300 hosts on one Linux bridge")
	flag.BoolVar(&o.ipv6, "ipv6", true, "add the star of 1000 with ipv6 = off in the hub, and in every node")
	flag.StringVar(&o.out, "o", "", "also write the table to this file")
	flag.StringVar(&o.bin, "netcompose", "", "use this netcompose binary instead of building ./cmd/netcompose")
	flag.Parse()
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "star: -n: bad size %q\n", f)
			return 2
		}
		o.sizes = append(o.sizes, n)
	}
	if o.big {
		o.sizes = append(o.sizes, 10000)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "star: needs root (network namespaces)")
		return 2
	}
	b, err := newBench(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "star:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = b.all(ctx)
	b.cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "star:", err)
		return 1
	}
	return 0
}

type bench struct {
	opt      options
	dir      string // INI files and the binary
	bin      string // netcompose
	self     string // this program, for the floor
	prefix   string // of every lab name: nb<pid>
	cliLabs  []string
	floorLab []string
	results  map[int]starResult
	report   strings.Builder
}

func newBench(o options) (*bench, error) {
	dir, err := os.MkdirTemp("", "netcompose-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{opt: o, dir: dir, bin: o.bin, prefix: fmt.Sprintf("nb%d", os.Getpid())}
	if b.self, err = os.Executable(); err != nil {
		return nil, err
	}
	if b.bin == "" {
		b.bin = filepath.Join(dir, "netcompose")
		cmd := exec.Command("go", "build", "-o", b.bin, "./cmd/netcompose")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("build netcompose (run from the repository root): %w", err)
		}
	}
	return b, nil
}

// cleanup removes every lab this run made, whatever state it is in.
func (b *bench) cleanup() {
	for _, lab := range b.cliLabs {
		exec.Command(b.bin, "destroy", "--lab", lab).Run()
	}
	for _, lab := range b.floorLab {
		floor.Destroy(lab)
	}
	// Anything left with our prefix (a floor killed half way).
	floor.Destroy(b.prefix)
	os.RemoveAll(b.dir)
}

// sample is one timed process.
type sample struct {
	wall  time.Duration
	rssKB int64
}

// exec runs one process and times it from outside.
func (b *bench) exec(ctx context.Context, name string, args ...string) (sample, error) {
	if err := ctx.Err(); err != nil {
		return sample{}, err
	}
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	s := sample{wall: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			s.rssKB = ru.Maxrss
		}
	}
	if err != nil {
		return s, fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, tail(out.String(), 20))
	}
	return s, nil
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// pause lets the kernel finish the linkwatch and RCU work a run leaves
// (destroy already waits for the namespaces' teardown).
func pause() { time.Sleep(300 * time.Millisecond) }

func (b *bench) printf(format string, args ...any) {
	fmt.Fprintf(&b.report, format, args...)
	fmt.Printf(format, args...)
}

func (b *bench) all(ctx context.Context) error {
	b.printf("# netcompose end to end against the usable floor\n\n")
	b.printf("%s\n\n", machine())
	b.printf("Medians of %d runs (N <= 10: %d; N >= 10,000: one run), [min–max]; wall-clock times of whole processes. "+
		"Ratios: of the medians, and (in brackets) of the minima, the runs least disturbed by other work.\n\n", b.opt.repeat, b.repeats(10))
	b.printf("| N | floor ready | `apply` | ratio | no-op re-apply | per node | `destroy` | floor destroy | ratio | max RSS apply / re-apply / destroy |\n")
	b.printf("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, n := range b.opt.sizes {
		if err := b.star(ctx, n); err != nil {
			return err
		}
	}
	if b.opt.ipv6 {
		if err := b.ipv6(ctx); err != nil {
			return err
		}
	}
	if b.opt.mininet {
		if err := b.mininetRow(ctx); err != nil {
			return err
		}
	}
	b.printf("\nload average at the end: %s\n", loadavg())
	if b.opt.out != "" {
		return os.WriteFile(b.opt.out, []byte(b.report.String()), 0o644)
	}
	return nil
}

// repeats is how many runs a size gets: -repeat, four times as many at
// N <= 10 (a run takes a few tens of milliseconds there, and one
// namespace the kernel is slow to make moves its median by a tenth), one
// at N >= 10,000.
func (b *bench) repeats(n int) int {
	switch {
	case n >= 10000:
		return 1
	case n <= 10:
		return 4 * b.opt.repeat
	}
	return b.opt.repeat
}

// starResult is what star measured at one size.
type starResult struct {
	floorApply, floorDestroy, apply, reapply, destroy []sample
}

// star measures one size: floor and CLI, alternating which goes first.
func (b *bench) star(ctx context.Context, n int) error {
	lab := fmt.Sprintf("%s-s%d", b.prefix, n)
	ini, err := b.write(lab, starINI(lab, n, ""))
	if err != nil {
		return err
	}
	b.cliLabs = append(b.cliLabs, lab)
	var r starResult
	for i := range b.repeats(n) {
		steps := []func() error{
			func() error { return b.floor(ctx, n, "", &r.floorApply, &r.floorDestroy) },
			func() error { return b.cli(ctx, n, lab, ini, i == 0, &r) },
		}
		if i%2 == 1 {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
	}
	if b.results == nil {
		b.results = map[int]starResult{}
	}
	b.results[n] = r
	b.printf("| %d | %s | %s | %s | %s | %.3f ms | %s | %s | %s | %s / %s / %s |\n", n,
		cell(r.floorApply), cell(r.apply), ratio(r.apply, r.floorApply), cell(r.reapply), ms(median(r.reapply))/float64(n+1),
		cell(r.destroy), cell(r.floorDestroy), ratio(r.destroy, r.floorDestroy),
		mb(maxRSS(r.apply)), mb(maxRSS(r.reapply)), mb(maxRSS(r.destroy)))
	return nil
}

// floor builds and destroys the star of n leaves with package floor, in
// processes of their own; ipv6 is "" or floor-apply's ipv6-off-... word.
func (b *bench) floor(ctx context.Context, n int, ipv6 string, apply, destroy *[]sample) error {
	lab := fmt.Sprintf("%s-f%d", b.prefix, n)
	b.floorLab = append(b.floorLab, lab)
	args := []string{"floor-apply", lab, strconv.Itoa(n)}
	if ipv6 != "" {
		args = append(args, ipv6)
	}
	return b.cycle(ctx, b.self, args, []string{"floor-destroy", lab}, apply, destroy)
}

// cycle runs name with build's arguments, then with teardown's, pausing
// after each, and adds their samples to apply and destroy.
func (b *bench) cycle(ctx context.Context, name string, build, teardown []string, apply, destroy *[]sample) error {
	s, err := b.exec(ctx, name, build...)
	if err != nil {
		return err
	}
	*apply = append(*apply, s)
	pause()
	if s, err = b.exec(ctx, name, teardown...); err != nil {
		return err
	}
	*destroy = append(*destroy, s)
	pause()
	return nil
}

// cli applies the file, applies it again (a no-op) and destroys it. The
// first time it also checks that apply returned a usable lab and that
// the plan is empty after it.
func (b *bench) cli(ctx context.Context, n int, lab, ini string, check bool, r *starResult) error {
	s, err := b.exec(ctx, b.bin, "apply", ini)
	if err != nil {
		return err
	}
	r.apply = append(r.apply, s)
	if check {
		if err := usable(lab, n); err != nil {
			return fmt.Errorf("N=%d: apply returned before the lab was usable: %w", n, err)
		}
	}
	pause()
	if s, err = b.exec(ctx, b.bin, "apply", ini); err != nil {
		return err
	}
	r.reapply = append(r.reapply, s)
	if check {
		if _, err := b.exec(ctx, b.bin, "diff", "--exit-code", ini); err != nil {
			return fmt.Errorf("N=%d: plan not empty after apply: %w", n, err)
		}
	}
	pause()
	if s, err = b.exec(ctx, b.bin, "destroy", ini); err != nil {
		return err
	}
	r.destroy = append(r.destroy, s)
	pause()
	return nil
}

// ipv6 compares the star with IPv6 on (the star rows), off in the hub,
// and (at 1000) off in every node, for the CLI and the floor, at 1000
// leaves and, with -big, 10,000.
func (b *bench) ipv6(ctx context.Context) error {
	b.printf("\n## IPv6 off\n\n")
	b.printf("| N | IPv6 | `apply` | `destroy` | floor ready | floor destroy |\n|--:|---|--:|--:|--:|--:|\n")
	for _, n := range []int{1000, 10000} {
		if n == 10000 && !b.opt.big {
			continue
		}
		if r, ok := b.results[n]; ok {
			b.printf("| %d | on (default) | %s | %s | %s | %s |\n", n, cell(r.apply), cell(r.destroy), cell(r.floorApply), cell(r.floorDestroy))
		}
		for _, where := range []string{"hub", "all"} {
			if n == 10000 && where == "all" {
				continue
			}
			lab := fmt.Sprintf("%s-v%d%s", b.prefix, n, where)
			ini, err := b.write(lab, starINI(lab, n, where))
			if err != nil {
				return err
			}
			b.cliLabs = append(b.cliLabs, lab)
			var ca, cd, fa, fd []sample
			for range b.repeats(n) {
				if err := b.floor(ctx, n, "ipv6-off-"+where, &fa, &fd); err != nil {
					return err
				}
				if err := b.cycle(ctx, b.bin, []string{"apply", ini}, []string{"destroy", ini}, &ca, &cd); err != nil {
					return err
				}
			}
			label := map[string]string{"hub": "`ipv6 = off` in the hub", "all": "`ipv6 = off` in every node"}[where]
			b.printf("| %d | %s | %s | %s | %s | %s |\n", n, label, cell(ca), cell(cd), cell(fa), cell(fd))
		}
	}
	return nil
}

// mininetRow is the lab Mininet builds with `mn --topo single,300
// --switch lxbr`: 300 hosts, each a namespace with one veth to a Linux
// bridge. Mininet keeps the bridge in the root namespace; here the switch
// is a namespace too.
func (b *bench) mininetRow(ctx context.Context) error {
	const hosts = 300
	lab := b.prefix + "-m"
	ini, err := b.write(lab, mininetINI(lab, hosts))
	if err != nil {
		return err
	}
	b.cliLabs = append(b.cliLabs, lab)
	var ca, cd []sample
	for range b.opt.repeat {
		if err := b.cycle(ctx, b.bin, []string{"apply", ini}, []string{"destroy", ini}, &ca, &cd); err != nil {
			return err
		}
	}
	b.printf("\n## Mininet-like: %d hosts on one Linux bridge\n\n", hosts)
	b.printf("| tool | build | stop |\n|---|--:|--:|\n")
	b.printf("| netcompose `apply` / `destroy` (this run) | %s | %s |\n", cell(ca), cell(cd))
	b.printf("| Mininet 2.3, `--switch lxbr` (measured earlier on this VM, not in this run) | 6.3–6.8 s | 8.9 s |\n")
	return nil
}

func (b *bench) write(lab, text string) (string, error) {
	p := filepath.Join(b.dir, lab+".ini")
	return p, os.WriteFile(p, []byte(text), 0o644)
}

// starINI is the star as a topology file; ipv6 = off goes in the hub
// ("hub"), in every node ("all") or nowhere.
func starINI(lab string, n int, ipv6Off string) string {
	var w strings.Builder
	fmt.Fprintf(&w, "[DEFAULT]\nlab = %s\n\n[netns:hub]\n", lab)
	if ipv6Off != "" {
		w.WriteString("ipv6 = off\n")
	}
	links := floor.StarLinks(n)
	for _, l := range links {
		fmt.Fprintf(&w, "address.%s = %s\n", l.HubIf, l.HubAddr)
	}
	for _, l := range links {
		fmt.Fprintf(&w, "\n[netns:%s]\naddress.eth0 = %s\n", l.Leaf, l.LeafAddr)
		if ipv6Off == "all" {
			w.WriteString("ipv6 = off\n")
		}
		fmt.Fprintf(&w, "\n[veth:%s]\nendpoints = hub:%s %s:eth0\n", l.Leaf, l.HubIf, l.Leaf)
	}
	return w.String()
}

func mininetINI(lab string, hosts int) string {
	var w strings.Builder
	fmt.Fprintf(&w, "[DEFAULT]\nlab = %s\n\n[netns:s1]\n\n[bridge:br0]\nnetns = s1\nports =", lab)
	for i := 1; i <= hosts; i++ {
		fmt.Fprintf(&w, " p%d", i)
	}
	w.WriteString("\n")
	for i := 1; i <= hosts; i++ {
		fmt.Fprintf(&w, "\n[netns:h%d]\naddress.eth0 = 10.0.%d.%d/8\n", i, i/256, i%256)
		fmt.Fprintf(&w, "\n[veth:h%d]\nendpoints = h%d:eth0 s1:p%d\n", i, i, i)
	}
	return w.String()
}

func median(ss []sample) time.Duration {
	if len(ss) == 0 {
		return 0
	}
	d := make([]time.Duration, len(ss))
	for i, s := range ss {
		d[i] = s.wall
	}
	slices.Sort(d)
	if len(d)%2 == 1 {
		return d[len(d)/2]
	}
	return (d[len(d)/2-1] + d[len(d)/2]) / 2
}

// ratio is "median ratio (ratio of the minima)": on a shared machine the
// minima are the runs least disturbed by others.
func ratio(a, b []sample) string {
	r := fmt.Sprintf("%.2f×", float64(median(a))/float64(median(b)))
	if len(a) > 1 && len(b) > 1 {
		r += fmt.Sprintf(" (%.2f×)", float64(minimum(a))/float64(minimum(b)))
	}
	return r
}

func minimum(ss []sample) time.Duration {
	m := ss[0].wall
	for _, s := range ss {
		m = min(m, s.wall)
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func dur(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.0f ms", ms(d))
}

// cell is "median [min-max]".
func cell(ss []sample) string {
	if len(ss) == 1 {
		return dur(ss[0].wall)
	}
	lo, hi := ss[0].wall, ss[0].wall
	for _, s := range ss {
		lo, hi = min(lo, s.wall), max(hi, s.wall)
	}
	return fmt.Sprintf("%s [%s–%s]", dur(median(ss)), dur(lo), dur(hi))
}

func maxRSS(ss []sample) int64 {
	var m int64
	for _, s := range ss {
		m = max(m, s.rssKB)
	}
	return m
}

func mb(kb int64) string { return fmt.Sprintf("%.0f MB", float64(kb)/1024) }

func machine() string {
	var u syscall.Utsname
	syscall.Uname(&u)
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return fmt.Sprintf("Machine: %d CPUs (%s), Linux %s, %s, RLIMIT_NOFILE %d/%d, %s; load average at the start: %s",
		runtime.NumCPU(), model, utsString(u.Release[:]), runtime.Version(), lim.Cur, lim.Max,
		time.Now().Format("2006-01-02"), loadavg())
}

func utsString(b []int8) string {
	var s []byte
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
