package kmod

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeKernel describes a kernel by the files it leaves and what loading
// and probing would do; checker builds them under t.TempDir().
type fakeKernel struct {
	builtin    []string        // lines of modules.builtin
	config     string          // /proc/config.gz content, "" for none
	sysLoaded  []string        // /sys/module/NAME with initstate
	sysBuiltin []string        // /sys/module/NAME without initstate
	loadable   map[string]bool // modules Load succeeds for
	probes     map[string]bool // probes that succeed
}

// calls records what the checker asked the loader and prober to do.
type calls struct {
	Loads  []string // "name params"
	Probes []string
}

var errNotLoadable = errors.New("fake: no such module")

func (k fakeKernel) checker(t *testing.T) (*Checker, *calls) {
	t.Helper()
	dir := t.TempDir()
	mods := filepath.Join(dir, "lib/modules/6.0.0-test")
	sys := filepath.Join(dir, "sys/module")
	must(t, os.MkdirAll(mods, 0o755))
	must(t, os.MkdirAll(sys, 0o755))
	if k.builtin != nil {
		must(t, os.WriteFile(filepath.Join(mods, "modules.builtin"), []byte(strings.Join(k.builtin, "\n")+"\n"), 0o644))
	}
	config := filepath.Join(dir, "proc/config.gz")
	if k.config != "" {
		must(t, os.MkdirAll(filepath.Dir(config), 0o755))
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(k.config))
		must(t, zw.Close())
		must(t, os.WriteFile(config, b.Bytes(), 0o444))
	}
	for _, m := range k.sysLoaded {
		must(t, os.MkdirAll(filepath.Join(sys, m), 0o755))
		must(t, os.WriteFile(filepath.Join(sys, m, "initstate"), []byte("live\n"), 0o444))
	}
	for _, m := range k.sysBuiltin {
		must(t, os.MkdirAll(filepath.Join(sys, m, "parameters"), 0o755))
	}
	c := &calls{}
	return &Checker{
		ModulesDir:  mods,
		ConfigFiles: []string{config},
		SysModule:   sys,
		Load: func(name, params string) error {
			c.Loads = append(c.Loads, strings.TrimSpace(name+" "+params))
			if k.loadable[name] {
				return nil
			}
			return errNotLoadable
		},
		Probe: func(_ context.Context, name string) error {
			c.Probes = append(c.Probes, name)
			if k.probes[name] {
				return nil
			}
			return errors.New("fake: probe failed")
		},
	}, c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// row is what a test compares of a Result.
type row struct {
	Name    string
	Present bool
	Found   string
	Needs   []string
}

func rows(r Report) []row {
	var out []row
	for _, res := range r.Results {
		var needs []string
		for _, n := range res.Needs {
			needs = append(needs, n.Need.String())
		}
		out = append(out, row{res.Name, res.Present, res.Found(), needs})
	}
	return out
}

func TestCheckFindsFeatures(t *testing.T) {
	tests := []struct {
		name     string
		kernel   fakeKernel
		features []string
		extra    []Module
		want     []row
		calls    calls
		err      bool
		warnings int
	}{
		{
			name:     "veth in modules.builtin is builtin",
			kernel:   fakeKernel{builtin: []string{"kernel/drivers/net/veth.ko"}},
			features: []string{"veth"},
			want:     []row{{"veth", true, "builtin", []string{"CONFIG_VETH (veth)"}}},
		},
		{
			name:     "bridge =y in config.gz is config",
			kernel:   fakeKernel{config: "CONFIG_FOO=m\nCONFIG_BRIDGE=y\n"},
			features: []string{"bridge"},
			want:     []row{{"bridge", true, "config", []string{"CONFIG_BRIDGE (bridge)"}}},
		},
		{
			name:     "vxlan =m and loadable is loaded now",
			kernel:   fakeKernel{config: "CONFIG_VXLAN=m\n", loadable: map[string]bool{"vxlan": true}},
			features: []string{"vxlan"},
			want:     []row{{"vxlan", true, "loaded-now", []string{"CONFIG_VXLAN (vxlan)"}}},
			calls:    calls{Loads: []string{"vxlan"}},
		},
		{
			name:     "sysfs module with initstate is loaded",
			kernel:   fakeKernel{sysLoaded: []string{"veth"}},
			features: []string{"veth"},
			want:     []row{{"veth", true, "loaded", []string{"CONFIG_VETH (veth)"}}},
		},
		{
			name:     "sysfs module without initstate is built-in code with parameters",
			kernel:   fakeKernel{sysBuiltin: []string{"bridge"}},
			features: []string{"bridge"},
			want:     []row{{"bridge", true, "builtin", []string{"CONFIG_BRIDGE (bridge)"}}},
		},
		{
			name:     "no files and nothing loadable falls back to the probe",
			kernel:   fakeKernel{probes: map[string]bool{"netns": true, "veth": true}},
			features: []string{"netns", "veth"},
			want: []row{
				{"netns", true, "probed", []string{"CONFIG_NET_NS"}},
				{"veth", true, "probed", []string{"CONFIG_VETH (veth)"}},
			},
			calls: calls{Loads: []string{"veth"}, Probes: []string{"netns", "veth"}},
		},
		{
			name:     "nfqueue needs both pieces",
			kernel:   fakeKernel{config: "CONFIG_NETFILTER_NETLINK_QUEUE=y\n# CONFIG_NETFILTER_XT_TARGET_NFQUEUE is not set\n"},
			features: []string{"nfqueue"},
			want: []row{{"nfqueue", false, "", []string{
				"CONFIG_NETFILTER_NETLINK_QUEUE (nfnetlink_queue)",
				"CONFIG_NETFILTER_XT_TARGET_NFQUEUE (xt_NFQUEUE)"}}},
			calls: calls{Loads: []string{"xt_NFQUEUE"}, Probes: []string{"xt_NFQUEUE"}},
			err:   true,
		},
		{
			name:     "iptables over nf_tables when ip_tables is missing",
			kernel:   fakeKernel{config: "# CONFIG_IP_NF_IPTABLES is not set\nCONFIG_NFT_COMPAT=y\n"},
			features: []string{"iptables"},
			want:     []row{{"iptables", true, "config", []string{"CONFIG_NFT_COMPAT (nft_compat)"}}},
			calls:    calls{Loads: []string{"ip_tables"}, Probes: []string{"iptables"}},
		},
		{
			name:     "extra parameters go to the loader also for a feature's module",
			kernel:   fakeKernel{loadable: map[string]bool{"vxlan": true}},
			features: []string{"vxlan"},
			extra:    []Module{{Name: "vxlan", Params: "udp_port=4790"}},
			want: []row{
				{"vxlan", true, "loaded-now", []string{"CONFIG_VXLAN (vxlan)"}},
				{"kmod:vxlan", true, "loaded-now", []string{"vxlan"}},
			},
			calls: calls{Loads: []string{"vxlan udp_port=4790"}},
		},
		{
			name:     "parameters for an already loaded module are a warning",
			kernel:   fakeKernel{sysLoaded: []string{"dummy"}},
			extra:    []Module{{Name: "dummy", Params: "numdummies=0"}},
			want:     []row{{"kmod:dummy", true, "loaded", []string{"dummy"}}},
			warnings: 1,
		},
		{
			name:   "module spelled with dashes and .ko is the kernel's name",
			kernel: fakeKernel{builtin: []string{"kernel/net/sched/sch_netem.ko"}},
			extra:  []Module{{Name: "sch-netem.ko"}},
			want:   []row{{"kmod:sch_netem", true, "builtin", []string{"sch_netem"}}},
		},
		{
			name:     "missing optional module is a warning, not an error",
			kernel:   fakeKernel{},
			extra:    []Module{{Name: "nosuch", Optional: true}},
			want:     []row{{"kmod:nosuch", false, "", []string{"nosuch"}}},
			calls:    calls{Loads: []string{"nosuch"}},
			warnings: 1,
		},
		{
			name:   "missing required module is an error",
			kernel: fakeKernel{},
			extra:  []Module{{Name: "nosuch"}},
			want:   []row{{"kmod:nosuch", false, "", []string{"nosuch"}}},
			calls:  calls{Loads: []string{"nosuch"}},
			err:    true,
		},
		{
			name:     "unknown feature is an error",
			kernel:   fakeKernel{},
			features: []string{"wormhole"},
			want:     []row{{"wormhole", false, "", nil}},
			err:      true,
		},
		{
			name:     "a feature asked twice is checked once",
			kernel:   fakeKernel{probes: map[string]bool{"sysctl": true}},
			features: []string{"sysctl", "sysctl"},
			want:     []row{{"sysctl", true, "probed", []string{"CONFIG_SYSCTL"}}},
			calls:    calls{Probes: []string{"sysctl"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, got := tt.kernel.checker(t)
			rep := c.Check(context.Background(), tt.features, tt.extra)
			if d := cmp.Diff(tt.want, rows(rep)); d != "" {
				t.Errorf("results (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.calls, *got); d != "" {
				t.Errorf("loads and probes (-want +got):\n%s", d)
			}
			if err := rep.Err(); (err != nil) != tt.err {
				t.Errorf("Err() = %v, want error %v", err, tt.err)
			}
			if w := rep.Warnings(); len(w) != tt.warnings {
				t.Errorf("Warnings() = %q, want %d", w, tt.warnings)
			}
		})
	}
}

func TestErrNamesEveryMissingFeature(t *testing.T) {
	c, _ := fakeKernel{config: "CONFIG_VETH=y\n# CONFIG_VXLAN is not set\n"}.checker(t)
	rep := c.Check(context.Background(), []string{"veth", "bridge", "vxlan", "iptables"}, []Module{{Name: "nc_nosuch"}})
	err := rep.Err()
	if err == nil {
		t.Fatal("Err() = nil, want the missing features")
	}
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var me *MissingError
		if !errors.As(e, &me) {
			t.Fatalf("%v is not a *MissingError", e)
		}
		got = append(got, me.Feature)
	}
	if d := cmp.Diff([]string{"bridge", "vxlan", "iptables", "kmod:nc_nosuch"}, got); d != "" {
		t.Errorf("missing features (-want +got):\n%s", d)
	}
	// The message names the feature, the config option and the module.
	for _, s := range []string{"kernel feature vxlan is missing", "CONFIG_VXLAN is not set", "module vxlan",
		"CONFIG_BRIDGE (module bridge)", "CONFIG_NFT_COMPAT (module nft_compat)", "kernel module nc_nosuch is missing"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not say %q:\n%v", s, err)
		}
	}
	if !errors.Is(err, errNotLoadable) {
		t.Errorf("errors.Is(err, the loader's error) = false:\n%v", err)
	}
}

func TestConfigFiles(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "config-6.0.0")
	must(t, os.WriteFile(plain, []byte("CONFIG_VETH=y\n"), 0o644))
	c := &Checker{ConfigFiles: []string{filepath.Join(dir, "config.gz"), plain}}
	rep := c.Check(context.Background(), []string{"veth"}, nil)
	if rep.ConfigFrom != plain {
		t.Errorf("ConfigFrom = %q, want %q", rep.ConfigFrom, plain)
	}
	if d := cmp.Diff([]row{{"veth", true, "config", []string{"CONFIG_VETH (veth)"}}}, rows(rep)); d != "" {
		t.Errorf("results (-want +got):\n%s", d)
	}
}

func TestBrokenConfigIsNoted(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "config.gz")
	must(t, os.WriteFile(bad, []byte("not gzip"), 0o644))
	c := &Checker{ConfigFiles: []string{bad}}
	rep := c.Check(context.Background(), []string{"netns"}, nil)
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], bad) {
		t.Errorf("Notes = %q, want one about %s", rep.Notes, bad)
	}
	if rep.Err() == nil {
		t.Error("Err() = nil with nothing to find netns by")
	}
}

func TestCancelledContextStopsProbes(t *testing.T) {
	c, got := fakeKernel{probes: map[string]bool{"netns": true}}.checker(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := c.Check(ctx, []string{"netns"}, nil)
	if !errors.Is(rep.Err(), context.Canceled) {
		t.Errorf("Err() = %v, want context.Canceled", rep.Err())
	}
	if len(got.Probes) != 0 {
		t.Errorf("probes ran after cancel: %q", got.Probes)
	}
}

// TestKconfigGet: an option is found only at the start of a line and
// whole, on the first line and on a last one without a newline too.
func TestKconfigGet(t *testing.T) {
	c := kconfig("CONFIG_A=y\n# CONFIG_VETH is not set\nCONFIG_VETH2=m\nXCONFIG_B=y\n# comment CONFIG_C=y\nCONFIG_S=\"a=b\"\nCONFIG_LAST=m")
	for opt, want := range map[string]string{
		"CONFIG_A":     "y",
		"CONFIG_VETH":  "n", // not CONFIG_VETH2's m
		"CONFIG_VETH2": "m",
		"CONFIG_B":     "", // only inside another word
		"CONFIG_C":     "", // only inside a comment
		"CONFIG_S":     `"a=b"`,
		"CONFIG_LAST":  "m",
		"CONFIG_NONE":  "",
	} {
		if got := c.get(opt); got != want {
			t.Errorf("get(%s) = %q, want %q", opt, got, want)
		}
	}
}

// cachingChecker checks against a kernel config file of the given text,
// cached for boot-1.
func cachingChecker(t *testing.T, config string) (c *Checker, plain, cache string) {
	dir := t.TempDir()
	plain, cache = filepath.Join(dir, "config-6.0.0"), filepath.Join(dir, "kernel-config")
	must(t, os.WriteFile(plain, []byte(config), 0o644))
	return &Checker{ConfigFiles: []string{plain}, ConfigCache: cache, BootID: "boot-1"}, plain, cache
}

// TestConfigCache: the config read once is kept for the boot: a later
// check of that boot finds it in the cache (the file it came from gone),
// and a cache of another boot is not believed.
func TestConfigCache(t *testing.T) {
	c, plain, _ := cachingChecker(t, "CONFIG_VETH=y\n")
	want := []row{{"veth", true, "config", []string{"CONFIG_VETH (veth)"}}}
	if d := cmp.Diff(want, rows(c.Check(context.Background(), []string{"veth"}, nil))); d != "" {
		t.Fatalf("first check (-want +got):\n%s", d)
	}
	must(t, os.Remove(plain))
	rep := c.Check(context.Background(), []string{"veth"}, nil)
	if d := cmp.Diff(want, rows(rep)); d != "" || rep.ConfigFrom != plain {
		t.Errorf("check from the cache: from %q, (-want +got):\n%s", rep.ConfigFrom, d)
	}
	c.BootID = "boot-2"
	if rep := c.Check(context.Background(), []string{"veth"}, nil); rep.ConfigFrom != "" || rep.Err() == nil {
		t.Errorf("a cache of another boot was believed: from %q, err %v", rep.ConfigFrom, rep.Err())
	}
}

// TestConfigCacheKeepsWhatIsAskedAbout: the cache keeps the config's lines
// about the options a check can ask about, set or not, and nothing else;
// it answers for them as the config would; a cache of other options (an
// older netcompose's whole config) is read again from the config.
func TestConfigCacheKeepsWhatIsAskedAbout(t *testing.T) {
	c, plain, cache := cachingChecker(t, "#\n# Networking\n#\nCONFIG_VETH=y\n# CONFIG_VXLAN is not set\nCONFIG_NOT_ASKED=y\n")
	fromConfig := c.Check(context.Background(), []string{"veth", "vxlan"}, nil)
	b, err := os.ReadFile(cache)
	must(t, err)
	_, body, _ := strings.Cut(string(b), "\n")
	if body != "CONFIG_VETH=y\n# CONFIG_VXLAN is not set\n" {
		t.Errorf("cache body %q, want the two options' lines only", body)
	}
	fromCache := c.Check(context.Background(), []string{"veth", "vxlan"}, nil)
	if fromCache.Err() == nil || fromConfig.Err() == nil || fromCache.Err().Error() != fromConfig.Err().Error() {
		t.Errorf("from the cache: %v; from the config: %v; want the same missing vxlan", fromCache.Err(), fromConfig.Err())
	}
	// A cache in the format before options were named: the whole config.
	must(t, os.WriteFile(cache, []byte("# netcompose: kernel config of boot boot-1 from "+plain+"\nCONFIG_VXLAN=y\n"), 0o644))
	rep := c.Check(context.Background(), []string{"vxlan"}, nil)
	if rep.Err() == nil {
		t.Errorf("an old cache was believed: vxlan present")
	}
}
