package nsrun

import (
	"os"
	"runtime"
)

// Keep the main goroutine on the main thread, so that no other goroutine
// ever runs there. Create leaves its thread locked in the new
// namespace for the runtime to throw away, but the runtime cannot end the
// main thread: it parks it for good, still inside that namespace, which
// then lives as long as the process (and, we measured, the kernel's
// cleanup of every namespace deleted after it stalls until exit).
// See runtime.LockOSThread: locking in init keeps main on the main thread.
func init() { runtime.LockOSThread() }

// Main runs main on a goroutine of its own and exits the process with the
// code it returns, while the main goroutine, locked to the main thread,
// waits. A locked goroutine pays for every wait (a channel, a lock, a
// timer) with a hand-off between OS threads, the main thread sleeping and
// being woken on purpose; an ordinary goroutine is picked up by whichever
// thread is free. A command's main should call Main first thing.
func Main(main func() int) {
	code := make(chan int)
	go func() { code <- main() }()
	os.Exit(<-code)
}
