// Package nfqueue is netcompose's NFQUEUE runtime: the iptables rules that
// send a node's packets to a queue, and the component that serves the
// queue with a pipeline of filters (package filter) and gives each packet
// its verdict.
//
// Two halves, for two callers:
//
//   - Rules (Rule, RulesFor, ObserveRules, AddRule, DeleteRule, Supported;
//     Tables.RemoveChain) are for the apply/diff/status driver. They run
//     iptables inside the node's namespace and own only the rules carrying
//     the comment netcompose:<lab>:<name>.
//   - Start (with a Config from ConfigFrom) is the supervisor's component:
//     one consumer per queue number, its sockets opened in the node's
//     namespace, serving until Stop.
//
// docs/nfqueue.md describes the model, the filters and the counters.
package nfqueue
