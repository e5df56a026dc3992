package capture

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
)

// A Writer records packets. Writes are buffered: Flush after each batch
// (Socket.ReadBatch) keeps a reader at the other end of a pipe current.
type Writer interface {
	WritePacket(p *Packet) error
	Flush() error
}

// writeBuffer is what a writer gathers before it writes: a block of the
// ring is 128 KiB, so one batch is one or two writes.
const writeBuffer = 256 << 10

// The pcap and pcapng formats, as far as the writers use them: little
// endian, as the files gopacket's pcapgo wrote before them (the tests
// hold the two to the same bytes).
const (
	pcapMagic        = 0xa1b2c3d4 // microsecond timestamps
	linkTypeEthernet = 1
	linkTypeRaw      = 101 // an IP header first

	blockSection   = 0x0a0d0d0a
	blockInterface = 1
	blockPacket    = 6 // enhanced packet block

	optEnd         = 0
	optHardware    = 2 // shb_hardware
	optOS          = 3 // shb_os
	optApplication = 4 // shb_userappl
	optIfName      = 2 // if_name
	optIfTSResol   = 9 // if_tsresol
	optIfOS        = 12
)

var le = binary.LittleEndian

// pcapWriter writes the classic pcap format (microsecond timestamps,
// Ethernet link type) that every tool reads: tcpdump -r, Wireshark,
// tshark.
type pcapWriter struct {
	bw  *bufio.Writer
	hdr [16]byte
}

// NewPcap writes a pcap file header to w and returns a writer of
// Ethernet frames of at most snaplen bytes.
func NewPcap(w io.Writer, snaplen int) (Writer, error) {
	bw := bufio.NewWriterSize(w, writeBuffer)
	var h [24]byte
	le.PutUint32(h[0:], pcapMagic)
	le.PutUint16(h[4:], 2) // version 2.4
	le.PutUint16(h[6:], 4)
	// 8:16, time zone and timestamp accuracy, are 0.
	le.PutUint32(h[16:], uint32(snaplen))
	le.PutUint32(h[20:], linkTypeEthernet)
	bw.Write(h[:])
	// The header goes out at once: a reader at the end of a pipe
	// (wireshark -k -i -) waits for it before it shows anything.
	return &pcapWriter{bw: bw}, bw.Flush()
}

func (w *pcapWriter) WritePacket(p *Packet) error {
	le.PutUint32(w.hdr[0:], uint32(p.Time.Unix()))
	le.PutUint32(w.hdr[4:], uint32(p.Time.Nanosecond()/1000))
	le.PutUint32(w.hdr[8:], uint32(len(p.Data)))
	le.PutUint32(w.hdr[12:], uint32(max(p.Length, len(p.Data))))
	w.bw.Write(w.hdr[:])
	// A bufio.Writer keeps its first error: the last write has it.
	_, err := w.bw.Write(p.Data)
	return err
}

func (w *pcapWriter) Flush() error { return w.bw.Flush() }

// pcapngWriter writes pcapng, whose interface blocks keep each packet's
// interface by name: the format for a capture of a whole node.
type pcapngWriter struct {
	bw         *bufio.Writer
	snaplen    int
	ids        map[int]int // ifindex -> interface block
	interfaces int         // blocks written
	hdr        [28]byte
}

// NewPcapng writes a pcapng section with one interface block for each of
// ifaces (more are added as packets of other interfaces come).
func NewPcapng(w io.Writer, snaplen int, ifaces []Interface) (Writer, error) {
	if len(ifaces) == 0 {
		return nil, fmt.Errorf("capture: pcapng: no interface")
	}
	nw := &pcapngWriter{bw: bufio.NewWriterSize(w, writeBuffer), snaplen: snaplen, ids: map[int]int{}}
	// The section: byte order magic, version 1.0, length unknown (-1).
	b := le.AppendUint32(nil, 0x1a2b3c4d)
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint64(b, ^uint64(0))
	b = appendOption(b, optApplication, "netcompose capture")
	b = appendOption(b, optHardware, runtime.GOARCH)
	b = appendOption(b, optOS, runtime.GOOS)
	// Errors stay in bw, for Flush.
	nw.writeBlock(blockSection, le.AppendUint32(b, optEnd))
	for _, i := range ifaces {
		nw.add(i)
	}
	// Out at once, as NewPcap's header.
	return nw, nw.bw.Flush()
}

// add writes an interface block for i.
func (w *pcapngWriter) add(i Interface) error {
	lt := linkTypeEthernet
	if !i.Ethernet {
		// AF_PACKET gives the frames of links without a link-layer
		// header (tun, IP tunnels) from the IP header on.
		lt = linkTypeRaw
	}
	b := le.AppendUint16(nil, uint16(lt))
	b = le.AppendUint16(b, 0) // reserved
	b = le.AppendUint32(b, uint32(w.snaplen))
	if i.Name != "" {
		b = appendOption(b, optIfName, i.Name)
	}
	b = appendOption(b, optIfOS, "linux")
	b = appendOption(b, optIfTSResol, "\x09") // nanoseconds, as timestamps are written
	w.ids[i.Index] = w.interfaces
	w.interfaces++
	return w.writeBlock(blockInterface, le.AppendUint32(b, optEnd))
}

// appendOption appends a pcapng option to b, padded to 32 bits.
func appendOption(b []byte, code uint16, v string) []byte {
	b = le.AppendUint16(b, code)
	b = le.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	return append(b, make([]byte, pad4(len(v)))...)
}

// pad4 is how many bytes pad n to a multiple of 4.
func pad4(n int) int { return -n & 3 }

// writeBlock writes a pcapng block of type typ around body, whose length
// is a multiple of 4.
func (w *pcapngWriter) writeBlock(typ uint32, body []byte) error {
	n := uint32(12 + len(body))
	le.PutUint32(w.hdr[0:], typ)
	le.PutUint32(w.hdr[4:], n)
	w.bw.Write(w.hdr[:8])
	w.bw.Write(body)
	le.PutUint32(w.hdr[0:], n)
	// A bufio.Writer keeps its first error: the last write has it.
	_, err := w.bw.Write(w.hdr[:4])
	return err
}

func (w *pcapngWriter) WritePacket(p *Packet) error {
	id, ok := w.ids[p.Ifindex]
	if !ok {
		if err := w.add(p.Interface); err != nil {
			return err
		}
		id = w.ids[p.Ifindex]
	}
	pad := pad4(len(p.Data))
	n := uint32(32 + len(p.Data) + pad)
	ts := p.Time.UnixNano()
	le.PutUint32(w.hdr[0:], blockPacket)
	le.PutUint32(w.hdr[4:], n)
	le.PutUint32(w.hdr[8:], uint32(id))
	le.PutUint32(w.hdr[12:], uint32(ts>>32))
	le.PutUint32(w.hdr[16:], uint32(ts))
	le.PutUint32(w.hdr[20:], uint32(len(p.Data)))
	le.PutUint32(w.hdr[24:], uint32(max(p.Length, len(p.Data))))
	w.bw.Write(w.hdr[:28])
	w.bw.Write(p.Data)
	var tail [7]byte // padding, then the length again
	le.PutUint32(tail[3:], n)
	_, err := w.bw.Write(tail[3-pad:])
	return err
}

func (w *pcapngWriter) Flush() error { return w.bw.Flush() }

// TextOptions say what a line shows.
type TextOptions struct {
	// Interface names the interface on each line (a capture of every
	// interface of a node).
	Interface bool
	// Link shows the Ethernet addresses on every line.
	Link bool
	// Names are what MAC addresses are called in the lab.
	Names map[string]string
}

// textWriter writes one line per packet:
//
//	12:00:01.000204 eth0 In  ARP request who-has 192.0.2.20 tell 192.0.2.10, length 42
type textWriter struct {
	bw *bufio.Writer
	o  TextOptions
	s  Summarizer
}

// NewText returns a writer of one line of text per packet.
func NewText(w io.Writer, o TextOptions) Writer {
	return &textWriter{bw: bufio.NewWriterSize(w, writeBuffer), o: o, s: Summarizer{Names: o.Names, Link: o.Link}}
}

func (w *textWriter) WritePacket(p *Packet) error {
	w.bw.WriteString(p.Time.Format("15:04:05.000000 "))
	if w.o.Interface {
		w.bw.WriteString(p.Interface.Name + " ")
	}
	if p.Outgoing {
		w.bw.WriteString("Out ")
	} else {
		w.bw.WriteString("In  ")
	}
	var line string
	if p.Interface.Ethernet {
		line = w.s.Summary(p.Data, p.Length)
	} else {
		line = fmt.Sprintf("a frame without an Ethernet header, length %d", p.Length)
	}
	w.bw.WriteString(line)
	return w.bw.WriteByte('\n')
}

func (w *textWriter) Flush() error { return w.bw.Flush() }
