// Package loadertest holds what tests of the packages that read lab files
// check about their errors. It is imported by tests only.
package loadertest

import (
	"errors"
	"strings"
	"testing"

	"github.com/netcompose/netcompose/loader"
)

// WantErrors wants err to join exactly the errors want, in order, each a
// *loader.Error whose text, after "file:", starts with its want:
// "LINE: [SECTION]: ...".
func WantErrors(t testing.TB, err error, file string, want []string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var le *loader.Error
		if !errors.As(e, &le) {
			t.Errorf("not a *loader.Error: %v", e)
		}
		got = append(got, strings.TrimPrefix(e.Error(), file+":"))
	}
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range got {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, got[i], want[i])
		}
	}
}
