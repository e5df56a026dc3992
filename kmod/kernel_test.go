package kmod

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: probes create network namespaces")
	}
}

// netnsList is `ip -j netns list`, read independently of the code under
// test.
func netnsList(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "-j", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip -j netns list: %v", err)
	}
	var list []struct{ Name string }
	if s := strings.TrimSpace(string(out)); s != "" {
		if err := json.Unmarshal(out, &list); err != nil {
			t.Fatalf("ip -j netns list: %v: %s", err, out)
		}
	}
	var names []string
	for _, n := range list {
		names = append(names, n.Name)
	}
	return names
}

// noScratchLeft fails the test if a probe namespace of this process is
// still there when the test ends.
func noScratchLeft(t *testing.T) {
	t.Helper()
	mine := fmt.Sprintf("%s%d-", ScratchPrefix, os.Getpid())
	t.Cleanup(func() {
		for _, n := range netnsList(t) {
			if strings.HasPrefix(n, mine) {
				t.Errorf("probe namespace %s left behind", n)
			}
		}
	})
}

// kernelConfig reads the running kernel's config with zcat, not with the
// code under test; nil when the kernel has none.
func kernelConfig(t *testing.T) map[string]string {
	out, err := exec.Command("zcat", "/proc/config.gz").Output()
	if err != nil {
		return nil
	}
	cfg := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			cfg[k] = v
		}
	}
	return cfg
}

func TestProbeFindsLinkKinds(t *testing.T) {
	needRoot(t)
	noScratchLeft(t)
	// No files and no loader: whatever is found, the probe found it, as on
	// a kernel that lists its built-in code nowhere.
	c := &Checker{Probe: Probe}
	features := []string{"netns", "veth", "bridge", "vxlan"}
	rep := c.Check(context.Background(), features, nil)
	cfg := kernelConfig(t)
	var want, got []row
	for i, f := range features {
		w := row{Name: f, Present: true, Found: "probed", Needs: []string{Features[f].Needs[0].String()}}
		if cfg != nil && cfg[Features[f].Needs[0].Config] == "" {
			// The kernel's own config says it is not there: the probe
			// must not find it either.
			w.Present, w.Found = false, ""
		}
		want = append(want, w)
		got = append(got, rows(rep)[i])
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("probed features (-want +got):\n%s", d)
	}
	if err := rep.Err(); err != nil && cfg == nil {
		t.Errorf("Err() = %v", err)
	}
}

func TestProbeFailureCleansUp(t *testing.T) {
	needRoot(t)
	noScratchLeft(t)
	// VNIs are 24 bits: the kernel refuses this one.
	err := probeLink(&netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "probe0"}, VxlanId: 1 << 24})
	if err == nil {
		t.Fatal("probe of a vxlan with VNI 2^24 succeeded")
	}
	if !strings.Contains(err.Error(), "create vxlan") {
		t.Errorf("error does not say what it tried: %v", err)
	}
}

func TestProbeUnknownName(t *testing.T) {
	if err := Probe(context.Background(), "wormhole"); !errors.Is(err, ErrUnknownProbe) {
		t.Errorf("Probe(wormhole) = %v, want ErrUnknownProbe", err)
	}
}

func TestSystemCheck(t *testing.T) {
	needRoot(t)
	noScratchLeft(t)
	rep := System().Check(context.Background(), Known(), nil)
	var b strings.Builder
	rep.Write(&b)
	t.Logf("doctor report:\n%s", b.String())
	cfg := kernelConfig(t)
	if cfg == nil {
		t.Skip("no /proc/config.gz to compare with")
	}
	// Every feature whose pieces the kernel config says are built in must
	// be found, whichever way.
	for _, res := range rep.Results {
		f := Features[res.Name]
		all := true
		for _, n := range f.Needs {
			all = all && cfg[n.Config] == "y"
		}
		if all && !res.Present {
			t.Errorf("%s: missing, but the kernel config builds it in: %v", res.Name, res.Err)
		}
	}
}

func TestUnknownModuleIsClearError(t *testing.T) {
	name := fmt.Sprintf("nc_nosuch_%d", os.Getpid())
	rep := System().Check(context.Background(), nil, []Module{{Name: name}})
	err := rep.Err()
	var me *MissingError
	if !errors.As(err, &me) {
		t.Fatalf("Err() = %v, want a *MissingError", err)
	}
	if me.Feature != "kmod:"+name || !strings.Contains(err.Error(), "kernel module "+name+" is missing") {
		t.Errorf("error does not name the module %s: %v", name, err)
	}

	rep = System().Check(context.Background(), nil, []Module{{Name: name, Optional: true}})
	if err := rep.Err(); err != nil {
		t.Errorf("optional module: Err() = %v, want nil", err)
	}
	if w := rep.Warnings(); len(w) != 1 || !strings.Contains(w[0], name) {
		t.Errorf("optional module: Warnings() = %q, want one naming %s", w, name)
	}
}

func TestEveryProbeAgreesWithConfig(t *testing.T) {
	needRoot(t)
	noScratchLeft(t)
	cfg := kernelConfig(t)
	if cfg == nil {
		t.Skip("no /proc/config.gz to compare with")
	}
	for _, name := range Known() {
		for _, n := range Features[name].Needs {
			if n.Probe == "iptables" {
				if _, err := exec.LookPath("iptables"); err != nil {
					continue // the probe runs the iptables command
				}
			}
			err := Probe(context.Background(), n.Probe)
			if cfg[n.Config] == "y" && err != nil {
				t.Errorf("%s: probe %s: %v, but %s=y", name, n.Probe, err, n.Config)
			}
		}
	}
}

func TestInScratchRunsCommandsInTheScratchNamespace(t *testing.T) {
	needRoot(t)
	noScratchLeft(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("no iptables command")
	}
	tag := fmt.Sprintf("nckmod-test-%d", os.Getpid())
	var inside string
	err := inScratch(func() error {
		if err := exec.Command("iptables", "-w", "-A", "INPUT", "-m", "comment", "--comment", tag, "-j", "ACCEPT").Run(); err != nil {
			return err
		}
		out, err := exec.Command("iptables", "-w", "-S", "INPUT").Output()
		inside = string(out)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(inside, tag) {
		t.Errorf("rule not seen inside the scratch namespace:\n%s", inside)
	}
	host, err := exec.Command("iptables", "-w", "-S", "INPUT").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(host), tag) {
		exec.Command("iptables", "-w", "-D", "INPUT", "-m", "comment", "--comment", tag, "-j", "ACCEPT").Run()
		t.Errorf("rule leaked into the host namespace")
	}
}

func TestNFQUEUEProbeWithoutTargetsList(t *testing.T) {
	needRoot(t)
	noScratchLeft(t)
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("no iptables command")
	}
	if cfg := kernelConfig(t); cfg == nil || cfg["CONFIG_NETFILTER_XT_TARGET_NFQUEUE"] != "y" {
		t.Skip("kernel config does not say NFQUEUE is built in")
	}
	// No targets list to read: the probe adds a rule in a scratch namespace.
	if err := probeNFQUEUE(t.TempDir() + "/ip_tables_targets"); err != nil {
		t.Errorf("probe without targets list: %v", err)
	}
	// A list without NFQUEUE is a no.
	list := t.TempDir() + "/ip_tables_targets"
	must(t, os.WriteFile(list, []byte("LOG\nREJECT\n"), 0o644))
	if err := probeNFQUEUE(list); err == nil {
		t.Error("probe found NFQUEUE in a list without it")
	}
}
