package service

import (
	"bytes"
	"context"
	"sync"

	"github.com/coder/websocket"
)

// sendQueue is how many messages a broadcast client may fall behind
// before it is closed (1008): one slow reader must not hold up the room.
const sendQueue = 256

// rooms are the broadcast rooms, one per URL path.
type rooms struct {
	mu sync.Mutex
	m  map[string]map[*member]struct{}
}

// member is one client of a room, with its own writer.
type member struct {
	s    *socket
	send chan message
	// gone is closed when the member leaves, so senders never block on it.
	gone chan struct{}
}

type message struct {
	typ  websocket.MessageType
	data []byte // shared by every receiver: never modified
}

func newRooms() *rooms { return &rooms{m: map[string]map[*member]struct{}{}} }

func (rs *rooms) join(m *member) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	room := rs.m[m.s.path]
	if room == nil {
		room = map[*member]struct{}{}
		rs.m[m.s.path] = room
	}
	room[m] = struct{}{}
}

func (rs *rooms) leave(m *member) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	room := rs.m[m.s.path]
	delete(room, m)
	if len(room) == 0 {
		delete(rs.m, m.s.path)
	}
}

// others lists the room's members except from, appended to dst.
func (rs *rooms) others(from *member, dst []*member) []*member {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for m := range rs.m[from.s.path] {
		if m != from {
			dst = append(dst, m)
		}
	}
	return dst
}

// broadcast sends every message of a client to every other client of the
// same path.
func (w *web) broadcast(s *socket) {
	m := &member{s: s, send: make(chan message, sendQueue), gone: make(chan struct{})}
	w.rooms.join(m)
	written := make(chan struct{})
	defer func() {
		w.rooms.leave(m)
		close(m.gone)
		s.c.CloseNow() // unblocks a write to a client that stopped reading
		<-written
	}()
	go func() {
		defer close(written)
		m.write(w)
	}()
	ctx := context.Background()
	var (
		buf bytes.Buffer
		to  []*member
	)
	for {
		typ, err := s.read(ctx, &buf)
		if err != nil {
			return
		}
		msg := message{typ: typ, data: bytes.Clone(buf.Bytes())}
		to = w.rooms.others(m, to[:0])
		for _, o := range to {
			o.queue(msg)
		}
	}
}

// queue hands msg to the member's writer, or closes a member that is too
// far behind.
func (m *member) queue(msg message) {
	select {
	case m.send <- msg:
	case <-m.gone:
	default:
		m.s.w.log.printf("closing connection from %s: %d messages behind", m.s.remote, sendQueue)
		go m.s.c.Close(websocket.StatusPolicyViolation, "too slow: send queue full")
	}
}

// write sends the member's queue until it leaves.
func (m *member) write(w *web) {
	ctx := context.Background()
	for {
		select {
		case msg := <-m.send:
			if err := m.s.c.Write(ctx, msg.typ, msg.data); err != nil {
				return
			}
			w.out.Add(1)
			m.s.touch()
		case <-m.gone:
			return
		}
	}
}
