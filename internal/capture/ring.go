package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reading the ring: the kernel fills a block, marks it the user's, and
// takes it back when its status is set to the kernel's again.

// Byte offsets in a block (struct tpacket_block_desc, whose header is a
// tpacket_hdr_v1) and in a packet (struct tpacket3_hdr followed by a
// struct sockaddr_ll, both in linux/if_packet.h).
const (
	blockStatus     = 8
	blockNumPkts    = 12
	blockFirstPkt   = 16
	sockaddrOffset  = 48 // TPACKET_ALIGN(sizeof(struct tpacket3_hdr))
	sllIfindex      = 4
	sllPkttype      = 10
	statusVlanValid = unix.TP_STATUS_VLAN_VALID
	statusTPIDValid = unix.TP_STATUS_VLAN_TPID_VALID
)

// ReadBatch waits for the next block of packets and calls fn for each;
// a packet's Data is only valid during its call. It returns after one
// block (so that the caller can flush what it wrote), when fn fails, or
// with ctx's error or ErrClosed when the wait is interrupted.
func (s *Socket) ReadBatch(ctx context.Context, fn func(*Packet) error) error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	blk := s.ring[s.next*blockSize : (s.next+1)*blockSize]
	status := (*uint32)(unsafe.Pointer(&blk[blockStatus]))
	for atomic.LoadUint32(status)&unix.TP_STATUS_USER == 0 {
		if err := s.wait(ctx); err != nil {
			return err
		}
	}
	n := int(*(*uint32)(unsafe.Pointer(&blk[blockNumPkts])))
	off := int(*(*uint32)(unsafe.Pointer(&blk[blockFirstPkt])))
	var err error
	var p Packet
	for i := 0; i < n && err == nil; i++ {
		h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&blk[off]))
		p = Packet{
			Time:     time.Unix(int64(h.Sec), int64(h.Nsec)),
			Ifindex:  int(*(*int32)(unsafe.Pointer(&blk[off+sockaddrOffset+sllIfindex]))),
			Outgoing: blk[off+sockaddrOffset+sllPkttype] == unix.PACKET_OUTGOING,
			Length:   int(h.Len),
			Data:     blk[off+int(h.Mac) : off+int(h.Mac)+int(h.Snaplen)],
		}
		if h.Status&statusVlanValid != 0 {
			p.Data, p.Length = s.retag(p.Data, h), p.Length+4
		}
		if len(p.Data) > s.snaplen {
			p.Data = p.Data[:s.snaplen]
		}
		p.Interface = s.iface(p.Ifindex)
		err = fn(&p)
		off += int(h.Next_offset)
	}
	atomic.StoreUint32(status, unix.TP_STATUS_KERNEL)
	s.next = (s.next + 1) % s.blocks
	return err
}

// retag puts back the 802.1Q tag the kernel took off a packet (and kept
// in the ring's header), as libpcap does, so that the file shows the
// frame as it was on the wire.
func (s *Socket) retag(data []byte, h *unix.Tpacket3Hdr) []byte {
	if len(data) < 12 {
		return data
	}
	tpid := uint16(unix.ETH_P_8021Q)
	if h.Status&statusTPIDValid != 0 && h.Hv1.Vlan_tpid != 0 {
		tpid = h.Hv1.Vlan_tpid
	}
	s.vlan = append(s.vlan[:0], data[:12]...)
	s.vlan = append(s.vlan, byte(tpid>>8), byte(tpid), byte(h.Hv1.Vlan_tci>>8), byte(h.Hv1.Vlan_tci))
	return append(s.vlan, data[12:]...)
}

// wait blocks until the kernel may have handed over a block, ctx is done
// or the socket is closed.
func (s *Socket) wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, s.interrupt)
	defer stop()
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN | unix.POLLERR}, {Fd: int32(s.wake), Events: unix.POLLIN}}
	for {
		if s.closed.Load() {
			return ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := unix.Poll(fds, -1)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return fmt.Errorf("capture: poll: %w", err)
		case fds[1].Revents != 0:
			var b [8]byte
			unix.Read(s.wake, b[:])
			continue // closed or cancelled: the checks above say which
		}
		return nil
	}
}

// ErrClosed is returned by a read interrupted by Close.
var ErrClosed = errors.New("capture: socket closed")

func (s *Socket) interrupt() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(s.wake, one[:])
}
