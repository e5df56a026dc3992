package reconcile

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/netcompose/netcompose/compose"
	"github.com/netcompose/netcompose/internal/nfqueue"
	"github.com/netcompose/netcompose/internal/nsrun"
	"github.com/netcompose/netcompose/internal/service"
	"github.com/netcompose/netcompose/internal/supervisor"
)

// Components lists the processes the lab runs — one per [nfqueue:] and
// per [service:] — as the supervisor takes them, and as the resources
// that stand for them in plans: kind, the section's name, and the hash
// of the resolved configuration (a change restarts the process).
func Components(lab *compose.Lab) ([]supervisor.Spec, []compose.Resource, error) {
	if lab == nil {
		return nil, nil, nil
	}
	var specs []supervisor.Spec
	var rs []compose.Resource
	var errs []error
	add := func(kind compose.Kind, node, name string, config any) {
		b, err := json.Marshal(config)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", kind, name, err))
			return
		}
		h := supervisor.Hash(b)
		specs = append(specs, supervisor.Spec{Kind: string(kind), Name: name, Hash: h, Config: b})
		rs = append(rs, compose.Resource{Kind: kind, Name: name, Attrs: map[string]string{"node": node, "hash": h}})
	}
	for _, q := range lab.NFQueues {
		c, err := nfqueue.ConfigFrom(lab, q, nsrun.Path(compose.NamespaceName(lab.Name, q.Netns)))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		add(compose.KindNFQueue, q.Netns, q.Name, c)
	}
	for _, s := range lab.Services {
		add(compose.KindService, s.Netns, s.Name, service.ConfigFrom(s, nsrun.Path(compose.NamespaceName(lab.Name, s.Netns))))
	}
	return specs, rs, errors.Join(errs...)
}

// StartFuncs are the component kinds a supervisor runs, for Serve.
var StartFuncs = map[string]supervisor.StartFunc{
	string(compose.KindNFQueue): nfqueue.Start,
	string(compose.KindService): service.Start,
}
