package kernel

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/netcompose/netcompose/internal/netlinksafe"

	"github.com/netcompose/netcompose/compose"
	"github.com/vishvananda/netlink"
)

// readyPoll is how often WaitReady looks again at links still coming up.
const readyPoll = 50 * time.Millisecond

// WaitReady waits until every veth end the lab owns in nodes (every node
// when nodes is nil) has carrier (operational state up), so that traffic
// flows when apply returns. The
// kernel propagates a new link's carrier through linkwatch, which batches
// events up to a second apart; until then a bridge does not forward
// through the port and the first packets of a test are lost. It returns
// the ends still not up when ctx ends (nil when all are up).
func WaitReady(ctx context.Context, lab string, nodes []string) ([]compose.End, error) {
	rec, err := loadRecord(lab)
	if err != nil {
		return nil, err
	}
	s := newSession(lab, rec)
	defer s.close()
	pending := s.ownedNodes()
	if nodes != nil {
		pending = slices.DeleteFunc(pending, func(n string) bool { return !slices.Contains(nodes, n) })
	}
	for {
		var down []compose.End
		var next []string
		for _, node := range pending {
			ends, err := s.vethsDown(node)
			if err != nil {
				return nil, err
			}
			if len(ends) > 0 {
				down = append(down, ends...)
				next = append(next, node)
			}
		}
		if len(down) == 0 {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return down, nil
		case <-time.After(readyPoll):
		}
		pending = next
	}
}

// vethsDown lists the node's owned veth ends that are administratively up
// but have no carrier yet. An end set down on purpose is not waited for.
func (s *session) vethsDown(node string) ([]compose.End, error) {
	h, err := s.handle(node)
	if err != nil {
		return nil, err
	}
	links, err := netlinksafe.Dump(h.LinkList)
	if err != nil {
		return nil, fmt.Errorf("netns %s: list links: %w", s.nsName(node), err)
	}
	var down []compose.End
	for _, l := range links {
		a := l.Attrs()
		if k, _, ok := s.owner(a.Alias); !ok || k != compose.KindVeth {
			continue
		}
		if a.Flags&net.FlagUp != 0 && a.OperState != netlink.OperUp {
			down = append(down, compose.End{Node: node, Ifname: a.Name})
		}
	}
	return down, nil
}

// EndsText lists ends as "node:if, node:if" for messages.
func EndsText(ends []compose.End) string {
	var s []string
	for _, e := range ends {
		s = append(s, e.Node+":"+e.Ifname)
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}
