package kernel

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/netcompose/netcompose/bench/floor"
	"github.com/netcompose/netcompose/compose"
)

// BenchmarkStar builds the star lab (a hub namespace joined to N leaves by
// veth pairs, an address on each end) and reports, per N, the kernel
// layer's apply until the lab is usable (observe + diff + apply +
// WaitReady on the ends it made), no-op re-apply (observe + diff) and
// destroy, next to the raw-netlink floor (package bench/floor, also until
// every veth end is up) and the iproute2 scripts doing the same work
// (which do not wait for carrier). Each iteration builds and tears down a
// whole lab, so run it with -benchtime=1x; the CLI end to end is
// bench/star (see docs/performance.md). Between runs the kernel is left
// to finish freeing namespaces, which would otherwise slow the next build
// several-fold.
func BenchmarkStar(b *testing.B) {
	requireRoot(b)
	for _, n := range []int{10, 100, 300, 1000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			desired := star(n)
			b.Run("netcompose/apply", func(b *testing.B) {
				for range b.N {
					lab := benchLab(b)
					b.StartTimer()
					usableApply(b, lab, desired)
					b.StopTimer()
					mustDestroy(b, lab)
				}
			})
			b.Run("netcompose/reapply", func(b *testing.B) {
				lab := benchLab(b)
				usableApply(b, lab, desired)
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
					usableApply(b, lab, desired)
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
					if err := floor.Star(lab, floor.StarLinks(n), floor.Options{}); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := floor.Destroy(lab); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("floor/destroy", func(b *testing.B) {
				for range b.N {
					lab := benchLab(b)
					if err := floor.Star(lab, floor.StarLinks(n), floor.Options{}); err != nil {
						b.Fatal(err)
					}
					settleNow()
					b.StartTimer()
					if err := floor.Destroy(lab); err != nil {
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
					if err := floor.Destroy(lab); err != nil {
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
					if err := floor.Destroy(lab); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// usableApply is what `netcompose apply` does after loading the file:
// observe, diff, apply, and wait until the veth ends it made carry
// traffic.
func usableApply(b *testing.B, lab string, desired []compose.Resource) {
	ctx := context.Background()
	actual, err := Observe(ctx, lab, desired)
	if err != nil {
		b.Fatal(err)
	}
	p := compose.Diff(lab, desired, actual)
	// As package reconcile does for a fresh lab: wait in Apply's session.
	res, err := Apply(ctx, p, ApplyOptions{Ready: vethEnds(p), ReadyTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	if res.ReadyErr != nil || len(res.NotReady) > 0 {
		b.Fatalf("not usable: %v %v", EndsText(res.NotReady), res.ReadyErr)
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
		if err := floor.Destroy(lab); err != nil {
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
