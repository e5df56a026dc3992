package capture

import (
	"fmt"
	"slices"
	"strings"

	"github.com/netcompose/netcompose/internal/netlinksafe"
)

// NoInterfaceError is a capture asked of an interface the namespace does
// not have.
type NoInterfaceError struct {
	Name string
	Have []string // the namespace's interfaces, by name
}

func (e *NoInterfaceError) Error() string {
	return fmt.Sprintf("capture: no interface %s (there are: %s)", e.Name, strings.Join(e.Have, ", "))
}

// refresh reads the namespace's links again.
func (s *Socket) refresh() error {
	links, err := netlinksafe.Dump(s.h.LinkList)
	if err != nil {
		return fmt.Errorf("capture: list links: %w", err)
	}
	m := make(map[int]Interface, len(links))
	for _, l := range links {
		a := l.Attrs()
		// EncapType is the link's ARPHRD type as iproute2 names it.
		m[a.Index] = Interface{Index: a.Index, Name: a.Name, Ethernet: a.EncapType == "ether" || a.EncapType == "loopback"}
	}
	s.mu.Lock()
	s.ifaces = m
	s.mu.Unlock()
	return nil
}

func (s *Socket) byName(name string) (Interface, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range s.ifaces {
		if i.Name == name {
			return i, true
		}
	}
	return Interface{}, false
}

func (s *Socket) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, i := range s.ifaces {
		out = append(out, i.Name)
	}
	slices.Sort(out)
	return out
}

// iface is the interface of index, read again when it is new (a link
// made during the capture); a link gone already keeps its number.
func (s *Socket) iface(index int) Interface {
	if s.bound != nil && s.bound.Index == index {
		return *s.bound
	}
	s.mu.Lock()
	i, ok := s.ifaces[index]
	s.mu.Unlock()
	if ok {
		return i
	}
	if s.refresh() == nil {
		s.mu.Lock()
		i, ok = s.ifaces[index]
		s.mu.Unlock()
		if ok {
			return i
		}
	}
	// Gone before it could be read: a lab's links are all Ethernet.
	i = Interface{Index: index, Name: fmt.Sprintf("if%d", index), Ethernet: true}
	s.mu.Lock()
	s.ifaces[index] = i
	s.mu.Unlock()
	return i
}
