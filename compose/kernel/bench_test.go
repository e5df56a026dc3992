package kernel

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/netcompose/netcompose/compose"
)

// BenchmarkStar builds the star lab (a hub namespace joined to N leaves by
// veth pairs, an address on each end) and reports, per N, netcompose's
// full apply (observe + diff + apply), no-op re-apply (observe + diff) and
// destroy, next to the raw-netlink floor and the iproute2 script doing the
// same work. Each iteration builds and tears down a whole lab, so run it
// with -benchtime=1x (see docs/performance.md). Between runs the kernel is
// left to finish freeing namespaces, which would otherwise slow the next
// build several-fold.
func BenchmarkStar(b *testing.B) {
	requireRoot(b)
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			desired := star(n)
			b.Run("netcompose/apply", func(b *testing.B) {
				for range b.N {
					lab := benchLab(b)
					b.StartTimer()
					if _, err := converge(lab, desired, ApplyOptions{}); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					mustDestroy(b, lab)
				}
			})
			b.Run("netcompose/reapply", func(b *testing.B) {
				lab := benchLab(b)
				if _, err := converge(lab, desired, ApplyOptions{}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for range b.N {
					actual, err := Observe(context.Background(), lab, desired)
					if err != nil {
						b.Fatal(err)
					}
					if p := compose.Diff(lab, desired, actual); !p.Empty() {
						b.Fatalf("re-apply plans changes: %v", planIDs(p))
					}
				}
				b.StopTimer()
				mustDestroy(b, lab)
			})
			b.Run("netcompose/destroy", func(b *testing.B) {
				for range b.N {
					lab := benchLab(b)
					if _, err := converge(lab, desired, ApplyOptions{}); err != nil {
						b.Fatal(err)
					}
					settleNow()
					b.StartTimer()
					mustDestroy(b, lab)
					b.StopTimer()
				}
			})
			b.Run("floor/apply", func(b *testing.B) {
				for range b.N {
					lab := benchLab(b)
					b.StartTimer()
					if err := floorApply(lab, n); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := floorDestroy(lab); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("floor/destroy", func(b *testing.B) {
				for range b.N {
					lab := benchLab(b)
					if err := floorApply(lab, n); err != nil {
						b.Fatal(err)
					}
					settleNow()
					b.StartTimer()
					if err := floorDestroy(lab); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
				}
			})
			b.Run("iproute2/batch", func(b *testing.B) {
				for range b.N {
					lab := benchLab(b)
					s := batchScript(lab, n)
					b.StartTimer()
					if err := runScript(s); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := floorDestroy(lab); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("iproute2/script", func(b *testing.B) {
				for range b.N {
					lab := benchLab(b)
					s := script(lab, n)
					b.StartTimer()
					if err := runScript(s); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := floorDestroy(lab); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// benchLab names a fresh lab, destroyed even if the benchmark fails, and
// stops the timer: each phase starts it around the work it measures.
func benchLab(b *testing.B) string {
	b.StopTimer()
	lab := newLab(b)
	// The baselines keep no state record: remove what they leave if a
	// run fails half way.
	b.Cleanup(func() {
		if err := floorDestroy(lab); err != nil {
			b.Errorf("cleanup: %v", err)
		}
	})
	settleNow()
	return lab
}

func mustDestroy(b *testing.B, lab string) {
	if err := destroy(lab); err != nil {
		b.Fatal(err)
	}
}

// settleNow lets the kernel finish what earlier runs left: freeing deleted
// namespaces (destroy waits for that already) and the link watch and RCU
// work that follows a build.
func settleNow() {
	time.Sleep(300 * time.Millisecond)
}
