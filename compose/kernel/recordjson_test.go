package kernel

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/labdir"
)

// TestRecordJSONIsEncodingJSONs: the record's own writer writes what
// json.MarshalIndent writes, byte for byte, for records of every shape:
// empty and nil collections, odd strings, a supervisor or none.
func TestRecordJSONIsEncodingJSONs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	odd := []string{"", "a", "l-b_x.9", "tab\there", "\b\f", "nl\ncr\r", `quote"back\slash`, "<html>&amp;", "\x00\x01\x1f\x7f",
		"é ü 漢字", "\u2028\u2029", "bad\xffutf8\xc3", "4096\t87380\t6291456", "emoji 🙂"}
	str := func() string { return odd[rng.IntN(len(odd))] }
	strs := func() []string {
		switch rng.IntN(4) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		var ss []string
		for range 1 + rng.IntN(4) {
			ss = append(ss, str())
		}
		return ss
	}
	for i := range 2000 {
		r := &record{Lab: str(), Nodes: strs(), RuleNodes: strs(), Format: rng.IntN(3) - 1}
		if rng.IntN(2) == 0 {
			r.Inodes = map[string]uint64{}
			for range rng.IntN(4) {
				r.Inodes[str()] = rng.Uint64()
			}
		}
		if rng.IntN(2) == 0 {
			r.Sysctls = map[string]map[string]string{}
			for range rng.IntN(4) {
				var m map[string]string
				if rng.IntN(3) > 0 {
					m = map[string]string{}
					for range rng.IntN(3) {
						m[str()] = str()
					}
				}
				r.Sysctls[str()] = m
			}
		}
		if rng.IntN(2) == 0 {
			r.Dumps = map[compose.Kind][]string{}
			for range rng.IntN(3) {
				r.Dumps[compose.Kind(str())] = strs()
			}
		}
		if rng.IntN(2) == 0 {
			r.Supervisor = &Process{PID: rng.IntN(1 << 22), StartTime: rng.Uint64()}
		}
		want, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got := r.appendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// FuzzRecordJSONString: any string is quoted as encoding/json quotes it.
func FuzzRecordJSONString(f *testing.F) {
	for _, s := range []string{"", "a\tb", "<>&", "\u2028", "\xff", `"\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

// TestSupervisorOf: the supervisor is read from the record that names
// one, none from a record that does not (also when a node is called
// "supervisor"), and a damaged record is an error whether or not it
// names one.
func TestSupervisorOf(t *testing.T) {
	requireRoot(t)
	lab := newLab(t)
	dir := labdir.MustFor(lab)
	if err := dir.Make(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Remove() })
	p := &Process{PID: 4242, StartTime: 99}
	for _, c := range []struct {
		rec  *record
		text string
		want *Process
		bad  bool
	}{
		{rec: &record{Lab: lab, Nodes: []string{"a"}, Inodes: map[string]uint64{"a": 1}, Format: recordFormat}},
		{rec: &record{Lab: lab, Nodes: []string{"supervisor"}, Format: recordFormat}},
		{rec: &record{Lab: lab, Nodes: []string{"a"}, Supervisor: p}, want: p},
		{text: `{"lab": "x", "nodes": [`, bad: true},
		{text: `{"supervisor": {"pid": "x"}}`, bad: true},
	} {
		text := c.text
		if c.rec != nil {
			text = string(c.rec.appendJSON(nil))
		}
		if err := os.WriteFile(dir.State(), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := SupervisorOf(lab)
		var bre *BadRecordError
		if c.bad != errors.As(err, &bre) || !c.bad && !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, %v; want %v, a bad record %v", text, got, err, c.want, c.bad)
		}
	}
}
