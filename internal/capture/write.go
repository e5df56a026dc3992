package capture

import (
	"bufio"
	"fmt"
	"io"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
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

// pcapWriter writes the classic pcap format (microsecond timestamps,
// Ethernet link type) that every tool reads: tcpdump -r, Wireshark,
// tshark.
type pcapWriter struct {
	bw *bufio.Writer
	w  *pcapgo.Writer
}

// NewPcap writes a pcap file header to w and returns a writer of
// Ethernet frames of at most snaplen bytes.
func NewPcap(w io.Writer, snaplen int) (Writer, error) {
	bw := bufio.NewWriterSize(w, writeBuffer)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(uint32(snaplen), layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	// The header goes out at once: a reader at the end of a pipe
	// (wireshark -k -i -) waits for it before it shows anything.
	return &pcapWriter{bw: bw, w: pw}, bw.Flush()
}

func (w *pcapWriter) WritePacket(p *Packet) error {
	return w.w.WritePacket(captureInfo(p, 0), p.Data)
}

func (w *pcapWriter) Flush() error { return w.bw.Flush() }

func captureInfo(p *Packet, iface int) gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: p.Time, CaptureLength: len(p.Data), Length: max(p.Length, len(p.Data)), InterfaceIndex: iface}
}

// pcapngWriter writes pcapng, whose interface blocks keep each packet's
// interface by name: the format for a capture of a whole node.
type pcapngWriter struct {
	w       *pcapgo.NgWriter
	snaplen int
	ids     map[int]int // ifindex -> interface block
}

// NewPcapng writes a pcapng section with one interface block for each of
// ifaces (more are added as packets of other interfaces come).
func NewPcapng(w io.Writer, snaplen int, ifaces []Interface) (Writer, error) {
	if len(ifaces) == 0 {
		return nil, fmt.Errorf("capture: pcapng: no interface")
	}
	opts := pcapgo.DefaultNgWriterOptions
	opts.SectionInfo.Application = "netcompose capture"
	nw := &pcapngWriter{snaplen: snaplen, ids: map[int]int{}}
	var err error
	if nw.w, err = pcapgo.NewNgWriterInterface(w, nw.ngInterface(ifaces[0]), opts); err != nil {
		return nil, err
	}
	nw.ids[ifaces[0].Index] = 0
	for _, i := range ifaces[1:] {
		if err := nw.add(i); err != nil {
			return nil, err
		}
	}
	return nw, nw.w.Flush()
}

func (w *pcapngWriter) ngInterface(i Interface) pcapgo.NgInterface {
	lt := layers.LinkTypeEthernet
	if !i.Ethernet {
		// AF_PACKET gives the frames of links without a link-layer
		// header (tun, IP tunnels) from the IP header on.
		lt = layers.LinkTypeRaw
	}
	return pcapgo.NgInterface{Name: i.Name, LinkType: lt, SnapLength: uint32(w.snaplen), OS: "linux"}
}

func (w *pcapngWriter) add(i Interface) error {
	id, err := w.w.AddInterface(w.ngInterface(i))
	if err != nil {
		return err
	}
	w.ids[i.Index] = id
	return nil
}

func (w *pcapngWriter) WritePacket(p *Packet) error {
	id, ok := w.ids[p.Ifindex]
	if !ok {
		if err := w.add(p.Interface); err != nil {
			return err
		}
		id = w.ids[p.Ifindex]
	}
	return w.w.WritePacket(captureInfo(p, id), p.Data)
}

func (w *pcapngWriter) Flush() error { return w.w.Flush() }

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
