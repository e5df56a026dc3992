package check

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/netcompose/netcompose/internal/netlinksafe"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/netcompose/netcompose/internal/nsrun"
)

// arpPoll bounds one wait for a packet, so a cancelled ctx is noticed.
const arpPoll = 100 * time.Millisecond

// arpSource is where an ARP request leaves from.
type arpSource struct {
	ifname  string
	ifindex int
	mac     net.HardwareAddr
	ip      netip.Addr // unspecified if the interface has no IPv4 address
}

func probeARP(ctx context.Context, s Spec) Result {
	src, err := arpSourceFor(s)
	if err != nil {
		return Result{Reason: err.Error()}
	}
	fd, err := openARPSocket(s.FromNetns, src.ifindex)
	if err != nil {
		return Result{Reason: fmt.Sprintf("arp socket on %s in %s: %v", src.ifname, s.FromNetns, err)}
	}
	defer unix.Close(fd)

	labels := arpLabels(s)
	start := time.Now()
	deadline := start.Add(s.Timeout)
	req := arpRequest(src, s.Target)
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: src.ifindex, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	if err := unix.Sendto(fd, req, 0, to); err != nil {
		return Result{Reason: fmt.Sprintf("send arp request on %s in %s: %v", src.ifname, s.FromNetns, err)}
	}
	// A second request halfway guards against one lost frame; answers are
	// collected by MAC, so a repeat answer changes nothing.
	resent := false

	var answers []Answer
	seen := map[string]bool{}
	buf := make([]byte, 1500)
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(deadline) {
			break
		}
		if !resent && now.Sub(start) >= s.Timeout/2 {
			unix.Sendto(fd, req, 0, to)
			resent = true
		}
		wait := min(deadline.Sub(now), arpPoll)
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, int(wait.Milliseconds())+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return Result{Reason: fmt.Sprintf("arp socket in %s: poll: %v", s.FromNetns, err)}
		}
		if n <= 0 {
			continue
		}
		m, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			continue
		}
		mac, ok := arpReplyFrom(buf[:m], s.Target)
		if !ok || seen[mac.String()] {
			continue
		}
		seen[mac.String()] = true
		answers = append(answers, Answer{MAC: mac.String(), Label: labels[mac.String()], After: time.Since(start)})
	}
	r := Result{Answers: answers}
	if len(answers) > 0 {
		r.RTT = answers[0].After
	}
	r.Detail = fmt.Sprintf("asked on %s (%s) from %s", src.ifname, src.mac, src.ip)
	r.Pass, r.Reason = arpVerdict(s, src, answers, labels)
	return r
}

func arpVerdict(s Spec, src arpSource, answers []Answer, labels map[string]string) (bool, string) {
	by := fmt.Sprintf("no ARP reply for %s on %s within %s", s.Target, src.ifname, s.Timeout)
	if len(answers) > 0 {
		var got []string
		for _, a := range answers {
			got = append(got, labelled(a.MAC, a.Label))
		}
		by = "answered by " + joinAnd(got)
	}
	name := func(set AnswerSet) string {
		if set.Name != "" {
			return set.Name
		}
		var ms []string
		for _, m := range set.MACs {
			ms = append(ms, labelled(m.String(), labels[m.String()]))
		}
		return strings.Join(ms, " or ")
	}
	inSet := func(set AnswerSet, mac string) bool {
		return slices.ContainsFunc(set.MACs, func(m net.HardwareAddr) bool { return m.String() == mac })
	}
	answered := func(set AnswerSet) bool {
		return slices.ContainsFunc(answers, func(a Answer) bool { return inSet(set, a.MAC) })
	}
	var names []string
	for _, set := range s.Answer {
		names = append(names, name(set))
	}
	want := joinAnd(names)

	if s.Expect == ExpectFail {
		if len(s.Answer) == 0 {
			if len(answers) == 0 {
				return true, by + ", as expected"
			}
			return false, by + ", want no answer"
		}
		for _, set := range s.Answer {
			if answered(set) {
				return false, by + ", want not " + name(set)
			}
		}
		if len(s.Answer) == 1 {
			return true, by + ", not " + want + " as expected"
		}
		return true, by + ", none of " + want + " as expected"
	}
	switch {
	case len(answers) == 0 && len(s.Answer) == 0:
		return false, by
	case len(answers) == 0:
		return false, by + ", want " + want
	case len(s.Answer) == 0:
		return true, by
	}
	var missing, extra []string
	for _, set := range s.Answer {
		if !answered(set) {
			missing = append(missing, name(set))
		}
	}
	for _, a := range answers {
		if !slices.ContainsFunc(s.Answer, func(set AnswerSet) bool { return inSet(set, a.MAC) }) {
			extra = append(extra, labelled(a.MAC, a.Label))
		}
	}
	switch {
	case len(missing) > 0 && len(extra) > 0:
		return false, fmt.Sprintf("%s, want %s: %s did not answer, %s should not", by, want, joinAnd(missing), joinAnd(extra))
	case len(missing) > 0:
		return false, fmt.Sprintf("%s, want %s: %s did not answer", by, want, joinAnd(missing))
	case len(extra) > 0:
		return false, by + ", want only " + want
	}
	return true, by
}

func labelled(mac, label string) string {
	if label == "" {
		return mac
	}
	return mac + " (" + label + ")"
}

// joinAnd joins "a", "a and b", "a, b and c".
func joinAnd(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// arpSourceFor picks the interface and sender address: the spec's
// interface, or the one the route to the target uses.
func arpSourceFor(s Spec) (arpSource, error) {
	h, closeH, err := handleAt(s.FromNetns)
	if err != nil {
		return arpSource{}, err
	}
	defer closeH()
	var link netlink.Link
	var src net.IP
	if s.Interface != "" {
		link, err = h.LinkByName(s.Interface)
		if err != nil {
			return arpSource{}, fmt.Errorf("interface %s in %s: %w", s.Interface, s.FromNetns, err)
		}
	} else {
		routes, err := h.RouteGet(s.Target.AsSlice())
		if err != nil || len(routes) == 0 {
			return arpSource{}, fmt.Errorf("no route to %s in %s to pick an interface (set one): %v", s.Target, s.FromNetns, err)
		}
		link, err = h.LinkByIndex(routes[0].LinkIndex)
		if err != nil {
			return arpSource{}, fmt.Errorf("interface of the route to %s in %s: %w", s.Target, s.FromNetns, err)
		}
		src = routes[0].Src
	}
	a := link.Attrs()
	out := arpSource{ifname: a.Name, ifindex: a.Index, mac: a.HardwareAddr, ip: netip.IPv4Unspecified()}
	if len(out.mac) != 6 {
		return arpSource{}, fmt.Errorf("interface %s in %s has no Ethernet address", a.Name, s.FromNetns)
	}
	if a.OperState != netlink.OperUp && a.OperState != netlink.OperUnknown {
		return arpSource{}, fmt.Errorf("interface %s in %s is %s", a.Name, s.FromNetns, a.OperState)
	}
	if ip, ok := netip.AddrFromSlice(src.To4()); ok && src != nil {
		out.ip = ip
		return out, nil
	}
	addrs, err := netlinksafe.Dump(func() ([]netlink.Addr, error) { return h.AddrList(link, netlink.FAMILY_V4) })
	if err != nil {
		return arpSource{}, fmt.Errorf("addresses of %s in %s: %w", a.Name, s.FromNetns, err)
	}
	if len(addrs) > 0 {
		if ip, ok := netip.AddrFromSlice(addrs[0].IP.To4()); ok {
			out.ip = ip
		}
	}
	return out, nil
}

// arpLabels names MACs: the spec's labels, then the interfaces of the
// target namespace.
func arpLabels(s Spec) map[string]string {
	labels := map[string]string{}
	if s.TargetNetns != "" {
		if h, closeH, err := handleAt(s.TargetNetns); err == nil {
			links, _ := netlinksafe.Dump(h.LinkList)
			for _, l := range links {
				if mac := l.Attrs().HardwareAddr; len(mac) == 6 {
					labels[mac.String()] = l.Attrs().Name
				}
			}
			closeH()
		}
	}
	for mac, label := range s.Labels {
		if hw, err := net.ParseMAC(mac); err == nil {
			labels[hw.String()] = label
		}
	}
	return labels
}

// handleAt opens a netlink handle inside ns.
func handleAt(ns string) (*netlink.Handle, func(), error) {
	nh, err := netns.GetFromPath(nsrun.Path(ns))
	if err != nil {
		return nil, nil, fmt.Errorf("namespace %s: open: %w", ns, err)
	}
	h, err := netlink.NewHandleAt(nh)
	if err != nil {
		nh.Close()
		return nil, nil, fmt.Errorf("namespace %s: netlink: %w", ns, err)
	}
	return h, func() { h.Close(); nh.Close() }, nil
}

// openARPSocket opens an AF_PACKET socket on ifindex in ns. It listens to
// every protocol, not just ARP: protocol-specific packet sockets on a
// bridge port never see frames the bridge takes, taps for all protocols
// do. arpReplyFrom filters.
func openARPSocket(ns string, ifindex int) (int, error) {
	fd := -1
	err := nsrun.Do(nsrun.Path(ns), func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
			unix.Close(fd)
			fd = -1
			return fmt.Errorf("bind: %w", err)
		}
		return nil
	})
	return fd, err
}

// arpRequest builds a broadcast Ethernet frame asking who has target.
func arpRequest(src arpSource, target netip.Addr) []byte {
	b := make([]byte, 14+28)
	copy(b[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(b[6:12], src.mac)
	binary.BigEndian.PutUint16(b[12:14], unix.ETH_P_ARP)
	a := b[14:]
	binary.BigEndian.PutUint16(a[0:2], 1)      // hardware: Ethernet
	binary.BigEndian.PutUint16(a[2:4], 0x0800) // protocol: IPv4
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:8], 1) // request
	copy(a[8:14], src.mac)
	sip := src.ip.As4()
	copy(a[14:18], sip[:])
	// a[18:24], the target MAC, stays zero
	tip := target.As4()
	copy(a[24:28], tip[:])
	return b
}

// arpReplyFrom returns the sender MAC if frame is an ARP reply for target.
func arpReplyFrom(frame []byte, target netip.Addr) (net.HardwareAddr, bool) {
	if len(frame) < 14+28 || binary.BigEndian.Uint16(frame[12:14]) != unix.ETH_P_ARP {
		return nil, false
	}
	a := frame[14:]
	if binary.BigEndian.Uint16(a[0:2]) != 1 || binary.BigEndian.Uint16(a[2:4]) != 0x0800 ||
		a[4] != 6 || a[5] != 4 || binary.BigEndian.Uint16(a[6:8]) != 2 {
		return nil, false
	}
	if netip.AddrFrom4([4]byte(a[14:18])) != target {
		return nil, false
	}
	return net.HardwareAddr(append([]byte(nil), a[8:14]...)), true
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
