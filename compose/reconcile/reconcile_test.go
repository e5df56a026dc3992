package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/supervisor"
	"github.com/netcompose/netcompose/loader"
)

// fakeProcesses stands in for the supervisor: it runs what it is told, in
// memory, and records the calls.
type fakeProcesses struct {
	running map[string]string // kind/name -> hash
	calls   [][]string        // the IDs each Converge was asked for
	kernel  []bool            // whether the lab's namespace existed at each call
	key     string
}

func (f *fakeProcesses) Observe(_ context.Context, _ string, desired []compose.Resource) ([]compose.Resource, error) {
	var out []compose.Resource
	for id, h := range f.running {
		k, name, _ := cutID(id)
		node := ""
		for _, r := range desired {
			if string(r.Kind) == k && r.Name == name {
				node = r.Attrs["node"]
			}
		}
		out = append(out, compose.Resource{Kind: compose.Kind(k), Name: name, Attrs: map[string]string{"hash": h, "node": node}})
	}
	return out, nil
}

func cutID(id string) (string, string, bool) {
	for i := range id {
		if id[i] == '/' {
			return id[:i], id[i+1:], true
		}
	}
	return id, "", false
}

func (f *fakeProcesses) Converge(_ context.Context, key string, want []supervisor.Spec) error {
	f.running = map[string]string{}
	var ids []string
	for _, s := range want {
		f.running[s.Kind+"/"+s.Name] = s.Hash
		ids = append(ids, s.Kind+"/"+s.Name)
	}
	f.calls = append(f.calls, ids)
	_, err := os.Stat("/run/netns/" + compose.NamespaceName(f.key, "web"))
	f.kernel = append(f.kernel, err == nil)
	return nil
}

// rootKey skips the test unless it runs as root, and names a fresh lab.
func rootKey(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	b := make([]byte, 4)
	rand.Read(b)
	return "r" + hex.EncodeToString(b)
}

func build(t *testing.T, lab, ini string) *compose.Lab {
	t.Helper()
	f, err := loader.Parse("lab.ini", []byte("[DEFAULT]\nlab = "+lab+"\n"+ini))
	if err != nil {
		t.Fatal(err)
	}
	l, err := compose.Build(f)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestProcessesStartAfterTheKernelAndStopBeforeIt(t *testing.T) {
	key := rootKey(t)
	lab := build(t, key, `
[netns:web]
[service:echo]
netns = web
use = builtin:websocket-echo
listen = 0.0.0.0:8080
`)
	fake := &fakeProcesses{key: key}
	var events []EventKind
	opt := Options{Processes: fake, Events: func(e Event) { events = append(events, e.Kind) }}
	t.Cleanup(func() { Run(context.Background(), Target{Key: key}, Options{Processes: fake}) })

	res, err := Run(t.Context(), Target{Key: key, Lab: lab}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 2 {
		t.Errorf("added %d, want 2 (the namespace and the service)", res.Added)
	}
	if d := cmp.Diff([][]string{{"service/echo"}}, fake.calls); d != "" || !fake.kernel[0] {
		t.Errorf("converge calls (-want +got):\n%s (namespace there: %v)", d, fake.kernel)
	}
	if want := []EventKind{Planned, Stepped, Finished}; !slices.Equal(compact(events), want) {
		t.Errorf("events %v, want %v", compact(events), want)
	}

	// A second run plans nothing and leaves the service alone.
	p, err := Plan(t.Context(), Target{Key: key, Lab: lab}, Options{Processes: fake})
	if err != nil || !p.Empty() {
		t.Fatalf("second plan: %v %v", p.Changes, err)
	}

	// Destroy stops the processes while the namespace is still there.
	fake.calls, fake.kernel = nil, nil
	if _, err := Run(t.Context(), Target{Key: key}, Options{Processes: fake}); err != nil {
		t.Fatal(err)
	}
	if len(fake.calls) != 1 || len(fake.calls[0]) != 0 || !fake.kernel[0] {
		t.Errorf("destroy: converge calls %v, namespace there %v; want one stop, before the namespace went", fake.calls, fake.kernel)
	}
}

// compact drops repeats: one Stepped per step.
func compact(ks []EventKind) []EventKind { return slices.Compact(slices.Clone(ks)) }

// TestPreflightCountsOnlyWhenSomethingChanges: the preflight's error stops
// a run that would create, before the plan is shown and before any change,
// and its notes come first; a run with nothing to do asks nothing of the
// kernel, so neither stops it. Every run waits for the preflight it began.
func TestPreflightCountsOnlyWhenSomethingChanges(t *testing.T) {
	key := rootKey(t)
	lab := build(t, key, "[netns:web]\n")
	t.Cleanup(func() { Run(context.Background(), Target{Key: key}, Options{}) })
	missing := errors.New("kernel lacks something")
	calls := 0
	var events []EventKind
	opt := Options{
		Events: func(e Event) { events = append(events, e.Kind) },
		Preflight: func(context.Context) ([]string, error) {
			calls++
			return []string{"optional thing missing"}, missing
		},
	}
	if _, err := Run(t.Context(), Target{Key: key, Lab: lab}, opt); !errors.Is(err, missing) {
		t.Fatalf("run with a failing preflight: %v, want its error", err)
	}
	if want := []EventKind{Note, Finished}; !slices.Equal(events, want) || calls != 1 {
		t.Errorf("events %v, want %v; preflight called %d times", events, want, calls)
	}
	if _, err := os.Stat("/run/netns/" + compose.NamespaceName(key, "web")); !os.IsNotExist(err) {
		t.Errorf("the namespace exists after a failed preflight (%v)", err)
	}

	if _, err := Run(t.Context(), Target{Key: key, Lab: lab}, Options{}); err != nil {
		t.Fatal(err)
	}
	events = nil
	if _, err := Run(t.Context(), Target{Key: key, Lab: lab}, opt); err != nil {
		t.Fatalf("no-op run with a failing preflight: %v, want no error", err)
	}
	if slices.Contains(events, Note) || calls != 1 {
		t.Errorf("a no-op run ran the preflight (%d calls in all) or passed on its notes: %v", calls, events)
	}
}
