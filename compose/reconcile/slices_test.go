package reconcile

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSlicesCheck(t *testing.T) {
	hosts := []string{"m1", "m2", "m3"}
	for _, tc := range []struct {
		name   string
		s      Slices
		host   string
		use    []string // nil: no error
		errMsg string
	}{
		{name: "lab without hosts is never refused", s: Slices{Lab: "vx", Whole: true}},
		{name: "nothing applied: the whole lab may be planned", s: Slices{Lab: "vx", Hosts: hosts}},
		{name: "nothing applied: a slice may be planned", s: Slices{Lab: "vx", Hosts: hosts}, host: "m2"},
		{name: "another slice applied: a second simulated host is fine", s: Slices{Lab: "vx", Hosts: hosts, Applied: []string{"m1"}}, host: "m2"},
		{name: "slices applied: the whole lab is refused, naming them", s: Slices{Lab: "vx", Hosts: hosts, Applied: []string{"m1", "m3"}},
			use: []string{"m1", "m3"}, errMsg: "lab vx spans hosts m1, m2, m3; slices applied on this machine: m1, m3"},
		{name: "whole lab applied: a slice is refused", s: Slices{Lab: "vx", Hosts: hosts, Whole: true}, host: "m1",
			use: []string{""}, errMsg: "lab vx is applied on this machine as a whole (without --host), not as host m1's slice"},
		{name: "whole lab applied: the whole lab is fine", s: Slices{Lab: "vx", Hosts: hosts, Whole: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Check(tc.host)
			if tc.use == nil {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tc.host, err)
				}
				return
			}
			var se *SliceError
			if !errors.As(err, &se) {
				t.Fatalf("Check(%q) = %v, want a *SliceError", tc.host, err)
			}
			if d := cmp.Diff(tc.use, se.Use); d != "" {
				t.Errorf("Use (-want +got):\n%s", d)
			}
			if err.Error() != tc.errMsg {
				t.Errorf("message %q, want %q", err.Error(), tc.errMsg)
			}
		})
	}
}

func TestSlicesKeys(t *testing.T) {
	s := Slices{Lab: "vx", Hosts: []string{"m1", "m2"}, Whole: true, Applied: []string{"m2", "old"}}
	if d := cmp.Diff([]string{"vx", "vx@m2", "vx@old"}, s.Keys()); d != "" {
		t.Errorf("Keys (-want +got):\n%s", d)
	}
}
