package supervisor

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestApplyConverges(t *testing.T) {
	l := startLab(t)
	steps := []struct {
		name  string
		specs []Spec
		want  []Result
		// restarted: the components that must run a new instance
		restarted []string
	}{{
		name:      "new components start",
		specs:     []Spec{spec("run", "a", `{"lines":1}`), spec("run", "b", `{"lines":1}`)},
		want:      []Result{{Kind: "run", Name: "a", Action: ActionStarted}, {Kind: "run", Name: "b", Action: ActionStarted}},
		restarted: []string{"run.a", "run.b"},
	}, {
		name:  "only the changed one restarts, a new one starts",
		specs: []Spec{spec("run", "a", `{"lines":1}`), spec("run", "b", `{"lines":2}`), spec("run", "c", `{}`)},
		want: []Result{{Kind: "run", Name: "a", Action: ActionUnchanged}, {Kind: "run", Name: "b", Action: ActionRestarted},
			{Kind: "run", Name: "c", Action: ActionStarted}},
		restarted: []string{"run.b", "run.c"},
	}, {
		name:  "a reformatted but equal config changes nothing",
		specs: []Spec{spec("run", "a", `{ "lines" : 1 }`), spec("run", "b", `{"lines":2}`), spec("run", "c", ` {} `)},
		want: []Result{{Kind: "run", Name: "a", Action: ActionUnchanged}, {Kind: "run", Name: "b", Action: ActionUnchanged},
			{Kind: "run", Name: "c", Action: ActionUnchanged}},
	}, {
		name:  "unlisted components stop",
		specs: []Spec{spec("run", "a", `{"lines":1}`)},
		want: []Result{{Kind: "run", Name: "a", Action: ActionUnchanged}, {Kind: "run", Name: "b", Action: ActionStopped},
			{Kind: "run", Name: "c", Action: ActionStopped}},
	}}
	serials := map[string]int64{} // component -> instance running
	for _, step := range steps {
		got := l.apply(step.specs...)
		if d := cmp.Diff(step.want, got); d != "" {
			t.Fatalf("%s: results (-want +got):\n%s", step.name, d)
		}
		st := l.status()
		if len(st.Components) != len(step.specs) {
			t.Fatalf("%s: status lists %d components, want %d", step.name, len(st.Components), len(step.specs))
		}
		for _, c := range st.Components {
			id := c.Kind + "." + c.Name
			if c.State != StateRunning {
				t.Errorf("%s: %s is %s (%s), want running", step.name, id, c.State, c.Error)
			}
			s := stats(t, c).Serial
			fresh := s != serials[id]
			if want := slices.Contains(step.restarted, id); fresh != want {
				t.Errorf("%s: %s runs instance %d (was %d): new instance = %v, want %v", step.name, id, s, serials[id], fresh, want)
			}
			serials[id] = s
		}
	}
	if c := l.component("run.a"); c.Restarts != 0 || c.Hash != Hash([]byte(`{"lines":1}`)) {
		t.Errorf("run.a: restarts %d hash %s, want 0 and the hash of its config", c.Restarts, c.Hash)
	}
}

func TestApplyRejectsDuplicates(t *testing.T) {
	l := startLab(t)
	_, err := l.client.Apply(t.Context(), []Spec{spec("run", "a", `{}`), spec("run", "a", `{"lines":1}`)})
	if err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Fatalf("apply with run.a twice: err %v, want one naming it listed twice", err)
	}
	if n := len(l.status().Components); n != 0 {
		t.Errorf("a rejected apply started %d components", n)
	}
}

func TestFailedComponentsAreReportedAndRestartedByTheNextApply(t *testing.T) {
	l := startLab(t)
	specs := []Spec{spec("run", "a", `{}`), spec("fail", "b", `{}`), spec("die", "c", `{}`), spec("nosuchkind", "d", `{}`)}
	check := func(step string, got []Result, want map[string]Action, errs map[string]string) {
		t.Helper()
		for _, r := range got {
			id := r.Kind + "." + r.Name
			if r.Action != want[id] {
				t.Errorf("%s: %s %s (%s), want %s", step, id, r.Action, r.Error, want[id])
			}
			if !strings.Contains(r.Error, errs[id]) || (errs[id] == "") != (r.Error == "") {
				t.Errorf("%s: %s error %q, want one containing %q", step, id, r.Error, errs[id])
			}
		}
	}
	errs := map[string]string{"fail.b": "cannot bind queue 7", "nosuchkind.d": `unknown kind "nosuchkind"`}
	check("first apply", l.apply(specs...), map[string]Action{
		"run.a": ActionStarted, "fail.b": ActionFailed, "die.c": ActionStarted, "nosuchkind.d": ActionFailed,
	}, errs)

	eventually(t, "die.c to be failed", func() bool { return l.component("die.c").State == StateFailed })
	if c := l.component("die.c"); !strings.Contains(c.Error, "lost its queue") {
		t.Errorf("die.c failed with %q, want its Err, lost its queue", c.Error)
	}
	if c := l.component("fail.b"); c.State != StateFailed || !strings.Contains(c.Error, "cannot bind") {
		t.Errorf("fail.b: %s %q, want failed with its start error", c.State, c.Error)
	}
	a := l.component("run.a")
	if a.State != StateRunning {
		t.Fatalf("run.a is %s next to failed components, want running", a.State)
	}

	check("same apply again", l.apply(specs...), map[string]Action{
		"run.a": ActionUnchanged, "fail.b": ActionFailed, "die.c": ActionRestarted, "nosuchkind.d": ActionFailed,
	}, errs)
	if c := l.component("die.c"); c.Restarts != 1 {
		t.Errorf("die.c: restarts %d, want 1", c.Restarts)
	}
	if s := stats(t, l.component("run.a")).Serial; s != stats(t, a).Serial {
		t.Errorf("run.a was restarted (instance %d, was %d)", s, stats(t, a).Serial)
	}
}

func TestPanickingComponentsDoNotKillTheSupervisor(t *testing.T) {
	l := startLab(t)
	got := l.apply(spec("panic", "start", `{"panic_in":"start"}`), spec("panic", "stats", `{"panic_in":"stats"}`),
		spec("panic", "stop", `{"panic_in":"stop"}`), spec("run", "a", `{}`))
	want := []Action{ActionFailed, ActionStarted, ActionStarted, ActionStarted}
	for i, r := range got {
		if r.Action != want[i] {
			t.Errorf("%s.%s: %s (%s), want %s", r.Kind, r.Name, r.Action, r.Error, want[i])
		}
	}
	if !strings.Contains(got[0].Error, "panic: start exploded") {
		t.Errorf("panic.start: error %q, want the panic", got[0].Error)
	}
	// GET /status calls Stats, which panics for panic.stats.
	if c := l.component("panic.stats"); c.State != StateFailed || !strings.Contains(c.Error, "stats exploded") {
		t.Errorf("panic.stats: %s %q, want failed by its panic", c.State, c.Error)
	}
	got = l.apply(spec("run", "a", `{}`)) // stops panic.stop, whose Stop panics
	for _, r := range got {
		if r.Kind+"."+r.Name == "panic.stop" && (r.Action != ActionStopped || !strings.Contains(r.Error, "stop exploded")) {
			t.Errorf("panic.stop: %s %q, want stopped with its panic", r.Action, r.Error)
		}
	}
	if !Alive(l.proc) {
		t.Fatalf("the supervisor died:\n%s", l.supervisorLog())
	}
	if c := l.component("run.a"); c.State != StateRunning {
		t.Errorf("run.a is %s, want running", c.State)
	}
	if log := l.supervisorLog(); !strings.Contains(log, "panic: stats exploded") || !strings.Contains(log, "goroutine") {
		t.Errorf("the supervisor log lacks the panic and its stack:\n%s", log)
	}
}
