package compose

// The kinds of an [nfqueue:] and a [service:]: the iptables rule that
// queues packets (a kernel object, in the node's namespace) and the
// processes the lab's supervisor runs. A process's resource carries only
// the hash of its resolved configuration: a change restarts it.

var iptablesKind = &KindInfo{
	Kind:  KindIPTables,
	Label: func(r Resource) []string { return []string{r.Name} },
	// Rules are matched by their comment; anything else is a new rule.
	Replace: []string{"chain", "protocol", "source", "destination", "sport", "dport", "in", "out", "queue", "bypass", "families"},
}

var nfqueueKind = &KindInfo{
	Kind:  KindNFQueue,
	Held:  true,
	Text:  heldText,
	Label: heldLabel,
}

var serviceKind = &KindInfo{
	Kind:  KindService,
	Held:  true,
	Text:  heldText,
	Label: heldLabel,
}

// heldLabel names a process by its node and section: "nfqueue fw/http80".
func heldLabel(r Resource) []string {
	if n := r.Attrs["node"]; n != "" {
		return []string{n + "/" + r.Name}
	}
	return []string{r.Name}
}

// heldText shows a process's hash short, as git shows a commit.
func heldText(r *Resource) string {
	if h := r.Attrs["hash"]; len(h) > 12 {
		return "  config " + h[:12]
	}
	return ""
}
