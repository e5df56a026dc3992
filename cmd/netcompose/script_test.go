package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/netcompose/netcompose/compose/kernel"
	"github.com/netcompose/netcompose/internal/labdir"
	"github.com/netcompose/netcompose/internal/nsrun"
	"github.com/netcompose/netcompose/kmod"
)

func TestMain(m *testing.M) {
	// apply starts the lab's supervisor as its own binary with the hidden
	// `supervise` command: in-process tests' binary is this one.
	if len(os.Args) > 1 && os.Args[1] == "supervise" {
		os.Exit(run(os.Args[1:]))
	}
	testscript.Main(m, map[string]func(){
		"netcompose": func() { os.Exit(run(os.Args[1:])) },
	})
}

// TestScript runs the CLI scripts in testdata/script. Each script gets a
// unique lab name in $LAB (files say @LAB@; `subst FILE...` fills it in) and
// a deferred `netcompose destroy --lab $LAB`, so even a failing script
// leaves nothing behind.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			b := make([]byte, 4)
			rand.Read(b)
			lab := "ts" + hex.EncodeToString(b)
			env.Setenv("LAB", lab)
			top, err := filepath.Abs("../../topologies")
			if err != nil {
				return err
			}
			env.Setenv("TOPOLOGIES", top)
			env.Defer(func() { cleanupLab(lab) })
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "root":
				return os.Geteuid() == 0, nil
			}
			// [feature:NAME]: the kernel has kmod feature NAME (netem).
			if f, ok := strings.CutPrefix(cond, "feature:"); ok {
				return os.Geteuid() == 0 && kmod.Probe(context.Background(), f) == nil, nil
			}
			return false, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// sleep DURATION: give a background command (watch) time to
			// connect before the step it is to see.
			"sleep": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: sleep DURATION")
				}
				d, err := time.ParseDuration(args[0])
				ts.Check(err)
				time.Sleep(d)
			},
			// waitfor FILE [REGEXP]: wait (10s at most) until FILE exists
			// and is not empty, and matches REGEXP when given: a
			// background command (capture) says it is ready.
			"waitfor": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 1 || len(args) > 2 {
					ts.Fatalf("usage: waitfor FILE [REGEXP]")
				}
				var re *regexp.Regexp
				if len(args) == 2 {
					re = regexp.MustCompile(args[1])
				}
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
					b, err := os.ReadFile(ts.MkAbs(args[0]))
					if err == nil && len(b) > 0 && (re == nil || re.Match(b)) {
						return
					}
				}
				ts.Fatalf("waitfor %s: not there within 10s", strings.Join(args, " "))
			},
			// ipdump NETNS...: iproute2's and sysctl's view of namespaces,
			// for comparing two builds (ipdump_test.go).
			"ipdump": ipdump,
			// subst FILE... replaces @LAB@ with $LAB in each file.
			"subst": func(ts *testscript.TestScript, neg bool, args []string) {
				for _, f := range args {
					data := ts.ReadFile(f)
					data = strings.ReplaceAll(data, "@LAB@", ts.Getenv("LAB"))
					ts.Check(os.WriteFile(ts.MkAbs(f), []byte(data), 0o644))
				}
			},
		},
	})
}

// cleanupLab removes whatever a script left of lab $LAB, even when it
// failed half way: every lab whose name starts with $LAB (a script may
// run several, $LAB, ${LAB}x, and their host slices $LAB@HOST), then any
// namespace the script made by hand under that prefix (simulated hosts
// and underlays). $LAB is random, so the prefix is the script's alone.
func cleanupLab(lab string) {
	if os.Geteuid() != 0 {
		return
	}
	labs, _ := kernel.Labs()
	for _, l := range labs {
		if strings.HasPrefix(l.Name, lab) {
			run([]string{"destroy", "--lab", l.Name})
		}
	}
	names, _ := filepath.Glob(nsrun.Path(lab + "*"))
	for _, p := range names {
		nsrun.Delete(filepath.Base(p))
	}
	os.RemoveAll(filepath.Join(labdir.Root, lab))
}
