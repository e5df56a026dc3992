package check

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// A capture watches one interface of a namespace while an icmp check
// runs, and counts the check's own echo requests there (known by their
// payload token): whether a monitor port sees a segment's traffic. It
// reads with an AF_PACKET socket opened inside the namespace, so it sees
// every frame the interface receives or sends, for any MAC.

// captureGrace is how long a capture goes on after the probe's last
// reply: mirrored copies of the last request may still be on their way.
const captureGrace = 200 * time.Millisecond

// capture is one running capture.
type capture struct {
	fd   int
	tok  []byte
	stop chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	seen   int // echo requests carrying tok
	frames int // every frame read
}

// startCapture opens a packet socket on ifname in namespace ns and counts
// echo requests carrying tok until end.
func startCapture(ns, ifname string, tok []byte) (*capture, error) {
	c := &capture{fd: -1, tok: tok, stop: make(chan struct{})}
	proto := int(htons(unix.ETH_P_ALL))
	err := nsrun.Do(nsrun.Path(ns), func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		c.fd = fd
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			return fmt.Errorf("bind to %s: %w", ifname, err)
		}
		// Wake the reader now and then to see whether it should stop.
		tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
		return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	})
	if err != nil {
		if c.fd >= 0 {
			unix.Close(c.fd)
		}
		return nil, fmt.Errorf("capture on %s in %s: %w", ifname, ns, err)
	}
	c.wg.Add(1)
	go c.read()
	return c, nil
}

func (c *capture) read() {
	defer c.wg.Done()
	buf := make([]byte, 65536)
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(c.fd, buf, 0)
		if err != nil {
			continue // the timeout, or an interrupted read
		}
		mine := isEchoRequest(buf[:n], c.tok)
		c.mu.Lock()
		c.frames++
		if mine {
			c.seen++
		}
		c.mu.Unlock()
	}
}

// end stops the capture after captureGrace and returns what it counted.
func (c *capture) end() (seen, frames int) {
	time.Sleep(captureGrace)
	close(c.stop)
	c.wg.Wait()
	unix.Close(c.fd)
	return c.seen, c.frames
}

// isEchoRequest reports whether an Ethernet frame (with any 802.1Q or
// 802.1ad tags) is an ICMP or ICMPv6 echo request whose data starts with
// tok.
func isEchoRequest(f []byte, tok []byte) bool {
	if len(f) < 14 {
		return false
	}
	etype, off := binary.BigEndian.Uint16(f[12:14]), 14
	for (etype == unix.ETH_P_8021Q || etype == unix.ETH_P_8021AD) && len(f) >= off+4 {
		etype, off = binary.BigEndian.Uint16(f[off+2:off+4]), off+4
	}
	p := f[off:]
	var icmp []byte
	var echo byte
	switch etype {
	case unix.ETH_P_IP:
		if len(p) < 20 || p[9] != protoICMP {
			return false
		}
		ihl := int(p[0]&0x0f) * 4
		if ihl < 20 || len(p) < ihl {
			return false
		}
		icmp, echo = p[ihl:], 8
	case unix.ETH_P_IPV6:
		if len(p) < 40 || p[6] != protoICMPv6 {
			return false
		}
		icmp, echo = p[40:], 128
	default:
		return false
	}
	// type, code, checksum, identifier, sequence, then the data
	return len(icmp) >= 8+len(tok) && icmp[0] == echo && bytes.Equal(icmp[8:8+len(tok)], tok)
}

// captureVerdict judges what the capture saw against what the check
// wants, after the probe's own verdict (pass, reason).
func captureVerdict(s Spec, pass bool, reason string, sent, seen, frames int) (bool, string) {
	where := s.CaptureName
	if where == "" {
		where = s.CaptureIface + " in " + s.CaptureNetns
	}
	switch {
	case s.CaptureWant && seen == 0:
		return false, fmt.Sprintf("%s; but %s saw none of the %d echo requests to %s (%d other frames)", reason, where, sent, s.Target, frames)
	case s.CaptureWant:
		return pass, fmt.Sprintf("%s; %s saw %d of %d echo requests", reason, where, min(seen, sent), sent)
	case seen > 0:
		return false, fmt.Sprintf("%s; but %s saw %d of the %d echo requests to %s, want none", reason, where, min(seen, sent), sent, s.Target)
	}
	return pass, fmt.Sprintf("%s; %s saw none of them, as wanted (%d other frames)", reason, where, frames)
}
