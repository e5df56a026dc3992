// Package capture records the packets of a lab's node without tcpdump in
// the namespace: an AF_PACKET socket opened inside the node's namespace
// (internal/nsrun) and served from any goroutine afterwards, a TPACKET_V3
// ring the kernel fills in blocks, classic BPF filters compiled from
// pcap-filter expressions (Compile), and writers for pcap, pcapng and one
// line of text per packet.
package capture

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nsrun"
)

const (
	// DefaultSnaplen is the bytes kept of each packet, tcpdump's default.
	DefaultSnaplen = 262144
	// DefaultBuffer is the size of the ring the kernel fills: at 50,000
	// small packets a second it holds more than a second of traffic
	// should the reader stall.
	DefaultBuffer = 8 << 20

	// blockSize is one block of the ring: the kernel hands the reader a
	// whole block at a time, and a packet (up to 64 KiB with GSO) must
	// fit in one. The kernel also hands over a block that is not full
	// once retireTimeout has passed, so a block holds at most that much
	// traffic: many small blocks keep the ring's capacity at any rate
	// (one large block per 10 ms held 80 ms of a 50,000 packets a
	// second stream, and a pause of the reader lost packets).
	blockSize = 128 << 10
	// retireTimeout (ms) is how long a packet waits at most in a block
	// that does not fill: what a trickle of packets lags behind.
	retireTimeout = 20
	// frameSize only has to divide the block: TPACKET_V3 packs packets
	// of any size into a block.
	frameSize = 2048
)

// Options say what a Socket keeps.
type Options struct {
	// Snaplen is the bytes kept of each packet; 0 means DefaultSnaplen.
	Snaplen int
	// Filter, when not nil, is attached to the socket (SO_ATTACH_FILTER)
	// before it receives anything: only packets it accepts are counted
	// and kept. Compile makes one from a pcap-filter expression.
	Filter []bpf.RawInstruction
	// Buffer is the ring's size in bytes, rounded up to whole blocks of
	// 128 KiB (at least 8); 0 means DefaultBuffer.
	Buffer int
	// NoPromisc leaves the interface's promiscuous mode alone; by
	// default a capture on one interface turns it on for as long as the
	// socket is open (as tcpdump does), so that a bridge shows the frames
	// it forwards between its ports.
	NoPromisc bool
}

// Interface is a link of the namespace packets are captured on.
type Interface struct {
	Index int
	Name  string
	// Ethernet is true for links whose frames start with an Ethernet
	// header (veth, bridge, vxlan, lo): what a filter is compiled for.
	Ethernet bool
}

// Packet is one captured packet.
type Packet struct {
	Time      time.Time
	Ifindex   int
	Outgoing  bool // sent by the namespace, not received
	Length    int  // on the wire
	Data      []byte
	Interface Interface
}

// Stats are the kernel's counters of a socket since it was opened.
type Stats struct {
	// Received is every packet the filter accepted, Dropped included.
	Received uint64
	// Dropped were accepted but found the ring full: the reader fell
	// behind.
	Dropped uint64
}

// Socket is an AF_PACKET socket in a namespace with its receive ring.
type Socket struct {
	fd      int
	wake    int // eventfd: Close and a cancelled context interrupt a wait
	ring    []byte
	blocks  int
	next    int // the block to read next
	snaplen int
	h       *netlink.Handle
	ns      netns.NsHandle
	bound   *Interface // nil when capturing every interface

	// rmu is held by ReadBatch while it uses the ring, so that Close
	// does not unmap it under a reader.
	rmu    sync.Mutex
	mu     sync.Mutex
	ifaces map[int]Interface
	stats  Stats
	closed atomic.Bool
	vlan   []byte // scratch for packets whose VLAN tag the kernel took off
}

// Open opens a capture inside the namespace mounted at nsPath, on the
// interface ifname, or on every interface of the namespace when ifname is
// "". The socket keeps its namespace: it is read from any goroutine.
func Open(nsPath, ifname string, o Options) (*Socket, error) {
	if o.Snaplen <= 0 {
		o.Snaplen = DefaultSnaplen
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("capture: netns %s: %w", nsPath, err)
	}
	s := &Socket{fd: -1, wake: -1, ns: ns, snaplen: o.Snaplen}
	if err := s.open(nsPath, ifname, o); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Socket) open(nsPath, ifname string, o Options) error {
	var err error
	if s.h, err = netlink.NewHandleAt(s.ns, unix.NETLINK_ROUTE); err != nil {
		return fmt.Errorf("capture: netns %s: netlink: %w", nsPath, err)
	}
	if err := s.refresh(); err != nil {
		return err
	}
	if ifname != "" {
		ifc, ok := s.byName(ifname)
		if !ok {
			return &NoInterfaceError{Name: ifname, Have: s.names()}
		}
		if !ifc.Ethernet {
			return fmt.Errorf("capture: %s is not an Ethernet link: only Ethernet-framed links (veth, bridge, vxlan, lo) are captured", ifname)
		}
		s.bound = &ifc
	}
	// Protocol 0: the socket receives nothing until bind names one, so
	// no packet gets in before the filter and the ring are in place.
	err = nsrun.Do(nsPath, func() error {
		var err error
		s.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return fmt.Errorf("capture: socket in %s: %w", nsPath, err)
	}
	if s.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fmt.Errorf("capture: eventfd: %w", err)
	}
	if len(o.Filter) > 0 {
		if err := attach(s.fd, o.Filter); err != nil {
			return err
		}
	}
	if err := s.mapRing(o.Buffer); err != nil {
		return err
	}
	index := 0
	if s.bound != nil {
		index = s.bound.Index
		if !o.NoPromisc {
			mreq := unix.PacketMreq{Ifindex: int32(index), Type: unix.PACKET_MR_PROMISC}
			if err := unix.SetsockoptPacketMreq(s.fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
				return fmt.Errorf("capture: %s: promiscuous mode: %w", ifname, err)
			}
		}
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: index}
	if err := unix.Bind(s.fd, sa); err != nil {
		return fmt.Errorf("capture: bind to %s: %w", ifname, err)
	}
	return nil
}

// attach puts a classic BPF program on the socket.
func attach(fd int, prog []bpf.RawInstruction) error {
	ins := make([]unix.SockFilter, len(prog))
	for i, r := range prog {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fp := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		return fmt.Errorf("capture: attach filter: %w", err)
	}
	return nil
}

// mapRing asks for a TPACKET_V3 receive ring of about size bytes and maps
// it: the kernel writes packets into blocks of it, no copy per read.
func (s *Socket) mapRing(size int) error {
	if err := unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("capture: TPACKET_V3: %w", err)
	}
	s.blocks = max(8, (size+blockSize-1)/blockSize)
	req := unix.TpacketReq3{
		Block_size:     blockSize,
		Block_nr:       uint32(s.blocks),
		Frame_size:     frameSize,
		Frame_nr:       uint32(blockSize / frameSize * s.blocks),
		Retire_blk_tov: retireTimeout,
	}
	if err := unix.SetsockoptTpacketReq3(s.fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("capture: receive ring of %d KiB: %w", s.blocks*blockSize>>10, err)
	}
	ring, err := unix.Mmap(s.fd, 0, blockSize*s.blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("capture: map the ring: %w", err)
	}
	s.ring = ring
	return nil
}

// Stats returns the kernel's counters since the socket was opened. The
// kernel resets its own on every read, so they are summed here.
func (s *Socket) Stats() (Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return s.stats, nil
	}
	st, err := unix.GetsockoptTpacketStatsV3(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return s.stats, fmt.Errorf("capture: statistics: %w", err)
	}
	// tp_packets counts the drops too (net/packet/af_packet.c).
	s.stats.Received += uint64(st.Packets)
	s.stats.Dropped += uint64(st.Drops)
	return s.stats, nil
}

// Interfaces are the links of the namespace as last seen, by index; a
// capture on one interface has just that one.
func (s *Socket) Interfaces() []Interface {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bound != nil {
		return []Interface{*s.bound}
	}
	var out []Interface
	for _, i := range s.ifaces {
		out = append(out, i)
	}
	slices.SortFunc(out, func(a, b Interface) int { return a.Index - b.Index })
	return out
}

// Close releases the ring and the socket (leaving promiscuous mode) and
// interrupts a ReadBatch that waits.
func (s *Socket) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if s.wake >= 0 {
		s.interrupt()
	}
	s.rmu.Lock() // a ReadBatch returns once interrupted
	defer s.rmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.ring != nil {
		err = unix.Munmap(s.ring)
		s.ring = nil
	}
	if s.fd >= 0 {
		// Stats before the socket goes, for a last Stats call.
		if st, serr := unix.GetsockoptTpacketStatsV3(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); serr == nil {
			s.stats.Received += uint64(st.Packets)
			s.stats.Dropped += uint64(st.Drops)
		}
		err = errors.Join(err, unix.Close(s.fd))
		s.fd = -1
	}
	if s.h != nil {
		s.h.Close()
	}
	if s.wake >= 0 {
		unix.Close(s.wake)
	}
	s.ns.Close()
	return err
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
