package nsrun

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// A Pool makes network namespaces ahead of need on a thread of its own,
// for a caller that makes a run of them. Making a namespace is mostly the
// kernel's work (its loopback, its sysctl tables, every protocol's
// per-namespace state), and two threads can make namespaces at once: on a
// machine with two cores the caller announces, mounts and sets up one
// namespace, or makes one itself, while the pool makes the next.
//
// A namespace of the pool is anonymous, held only by a file descriptor,
// until its taker mounts it (Mount): nobody else can see it, and it
// vanishes with the process, or when Close frees those never taken.
type Pool[T any] struct {
	// left is how many namespaces are still to be made, by the pool or
	// by its taker: whoever takes one off it (leaving zero or more)
	// makes that one.
	left  atomic.Int64
	ready chan Spare[T]
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once // of Close
	in    func() (T, error)
	drop  func(T)
}

// A Spare is a namespace a Pool made: an open descriptor of it, its
// inode, and what the pool's in function made inside it.
type Spare[T any] struct {
	Fd    int
	Ino   uint64
	Value T
}

// poolAhead is how many namespaces a pool keeps ready at most: enough
// that its taker never waits while the pool has made one, few enough that
// the descriptors they hold do not count.
const poolAhead = 8

// NewPool starts a pool that makes up to n namespaces. In each, on the
// pool's thread, it runs in, if not nil: the place to open the sockets
// that work in the namespace (a socket keeps the namespace it was made
// in); drop undoes what in made, for a spare never taken. Should making a
// namespace fail, the pool stops and its taker makes the rest itself,
// meeting the error, if it is one, where it can say which node it was.
func NewPool[T any](n int, in func() (T, error), drop func(T)) *Pool[T] {
	p := &Pool[T]{ready: make(chan Spare[T], min(n, poolAhead)), stop: make(chan struct{}), done: make(chan struct{}), in: in, drop: drop}
	p.left.Store(int64(n))
	go p.make()
	return p
}

func (p *Pool[T]) make() {
	runtime.LockOSThread() // never unlocked: the thread, in the last namespace made, dies with the goroutine
	defer close(p.done)
	for p.left.Add(-1) >= 0 {
		s, err := spare(p.in)
		if err != nil {
			p.left.Add(1) // not made: the taker makes it
			return
		}
		select {
		case p.ready <- s:
		case <-p.stop:
			p.free(s)
			return
		}
	}
}

func spare[T any](in func() (T, error)) (Spare[T], error) {
	fd, err := create(createReq{}) // unmounted: a descriptor of it
	if err != nil {
		return Spare[T]{}, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return Spare[T]{}, err
	}
	s := Spare[T]{Fd: fd, Ino: st.Ino}
	if in != nil {
		if s.Value, err = in(); err != nil {
			unix.Close(fd)
			return Spare[T]{}, err
		}
	}
	return s, nil
}

// Take returns a namespace the pool made, waiting for the one it is
// making if there is one. ok is false when the caller is to make the next
// namespace itself: none is ready and the pool has not started one (so
// that two threads make namespaces side by side), or the pool has
// stopped. A nil Pool has nothing to take.
func (p *Pool[T]) Take() (s Spare[T], ok bool) {
	if p == nil {
		return Spare[T]{}, false
	}
	select {
	case s := <-p.ready:
		return s, true
	default:
	}
	if p.left.Add(-1) >= 0 {
		return Spare[T]{}, false
	}
	select {
	case s := <-p.ready:
		return s, true
	case <-p.done:
		select {
		case s := <-p.ready:
			return s, true
		default:
			return Spare[T]{}, false
		}
	}
}

// Close stops the pool, waiting for the namespace it is making, and frees
// the spares never taken. A nil Pool is closed; so is one closed before.
func (p *Pool[T]) Close() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		p.left.Store(math.MinInt32)
		close(p.stop)
	})
	<-p.done
	for {
		select {
		case s := <-p.ready:
			p.free(s)
		default:
			return
		}
	}
}

func (p *Pool[T]) free(s Spare[T]) {
	if p.drop != nil {
		p.drop(s.Value)
	}
	unix.Close(s.Fd)
}

// Mount mounts a spare at Path(name) as a Creator mounts a namespace it
// makes: announce, if not nil, is called with its inode before anything is
// written under Dir. The spare's descriptor stays open, the caller's.
func Mount[T any](name string, s Spare[T], announce func(ino uint64) error) error {
	return mount(name, fmt.Sprintf("/proc/self/fd/%d", s.Fd), s.Ino, announce)
}
