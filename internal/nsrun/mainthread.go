package nsrun

import "runtime"

// Keep the main goroutine on the main thread, so that no other goroutine
// ever runs there. Create leaves its thread locked in the new
// namespace for the runtime to throw away, but the runtime cannot end the
// main thread: it parks it for good, still inside that namespace, which
// then lives as long as the process (and, we measured, the kernel's
// cleanup of every namespace deleted after it stalls until exit).
// See runtime.LockOSThread: locking in init keeps main on the main thread.
func init() { runtime.LockOSThread() }
