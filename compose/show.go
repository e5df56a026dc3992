package compose

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// ANSI colours, as Terraform uses them: green adds, yellow changes, red
// destroys, magenta replaces; cascaded deletes are dimmed.
const (
	ansiReset   = "\x1b[0m"
	ansiGreen   = "\x1b[32m"
	ansiYellow  = "\x1b[33m"
	ansiRed     = "\x1b[31m"
	ansiMagenta = "\x1b[35m"
	ansiDim     = "\x1b[2m"
	ansiBold    = "\x1b[1m"
)

// WritePlan prints p the way Terraform users expect: one line per change
// (+ create, ~ update with old → new values, - delete, ± replace with its
// reason), cascaded deletes dimmed and marked "(with its parent)", then
// the summary "Plan: N to add, M to change, K to destroy." or "No
// changes.". color adds ANSI colours, for terminals only.
func WritePlan(w io.Writer, p Plan, color bool) error {
	paint := func(c, s string) string {
		if !color {
			return s
		}
		return c + s + ansiReset
	}
	if p.Empty() {
		_, err := fmt.Fprintln(w, paint(ansiBold, "No changes.")+" Lab "+p.Lab+" matches the file.")
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Lab %s: netcompose will perform these actions:\n\n", p.Lab)
	for _, c := range p.Changes {
		line := "  " + c.Line()
		col := map[Action]string{Create: ansiGreen, Update: ansiYellow, Delete: ansiRed, Replace: ansiMagenta}[c.Action]
		if c.Cascade {
			col = ansiDim
		}
		b.WriteString(paint(col, line) + "\n")
	}
	add, change, destroy := p.Counts()
	fmt.Fprintf(&b, "\n%s %d to add, %d to change, %d to destroy.\n", paint(ansiBold, "Plan:"), add, change, destroy)
	_, err := io.WriteString(w, b.String())
	return err
}

// Line is how a plan shows c, without colour: "+ addr a eth0 10.0.0.1/24",
// "~ vxlan n1 eth0  remote: 192.0.2.2 → 192.0.2.3", "- route a
// 10.1.0.0/24 (with its parent)".
func (c Change) Line() string {
	line := c.Action.Symbol() + " " + Label(c.Resource())
	switch c.Action {
	case Create:
		line += attrText(c.After)
	case Update, Replace:
		line += changeText(c.Before, c.After)
	}
	switch {
	case c.Cascade:
		line += " (with its parent)"
	case c.Reason != "":
		line += " (" + c.Reason + ")"
	}
	return line
}

// Text is how a plan names r and its attributes when it creates it:
// "vxlan n1 eth0  learning=on local=192.0.2.1 ... vni=7036491".
func (r Resource) Text() string { return Label(r) + attrText(&r) }

// Label names a resource for people: "netns a", "veth a-b",
// "addr a eth0/10.0.0.1/24".
func Label(r Resource) string {
	parts := []string{string(r.Kind)}
	if r.Node != "" {
		parts = append(parts, r.Node)
	}
	if f := r.Kind.Info().Label; f != nil {
		parts = append(parts, f(r)...)
	} else if r.Name != "" {
		parts = append(parts, r.Name)
	}
	return strings.Join(parts, " ")
}

// attrText lists attributes as "  k=v k=v", sorted by key; a veth shows
// its ends first as "a:eth0 <-> b:eth0". A link's administrative state is
// left out while it is up, as every link is created, and so are the
// kind's Quiet attributes (a link's MAC).
func attrText(r *Resource) string {
	if len(r.Attrs) == 0 {
		return ""
	}
	if f := r.Kind.Info().Text; f != nil {
		return f(r)
	}
	var s []string
	skip := map[string]bool{}
	if r.Kind == KindVeth {
		e := r.Ends()
		s = append(s, e[0].Node+":"+e[0].Ifname+" <-> "+e[1].Node+":"+e[1].Ifname)
		skip = map[string]bool{"a.node": true, "a.ifname": true, "b.node": true, "b.ifname": true}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Attrs)) {
		// Unset attributes (an on-link route's via, a vxlan without a
		// group) and the kind's Defaults say nothing on a create.
		info := r.Kind.Info()
		if def, ok := info.Defaults[k]; ok && r.Attrs[k] == def {
			continue
		}
		if _, up := upEnd(*r, k); skip[k] || up && r.Attrs[k] == "true" || r.Attrs[k] == "" || slices.Contains(info.Quiet, k) {
			continue
		}
		s = append(s, k+"="+r.Attrs[k])
	}
	if len(s) == 0 {
		return ""
	}
	return "  " + strings.Join(s, " ")
}

// upEnd reports whether attribute k of r is the administrative state of
// one of its links (KindInfo.Up), and which.
func upEnd(r Resource, k string) (End, bool) {
	if f := r.Kind.Info().Up; f != nil {
		return f(r, k)
	}
	return End{}, false
}

// upText names an administrative state attribute's value: "up", "down".
func upText(v string) string {
	switch v {
	case "true":
		return "up"
	case "false":
		return "down"
	}
	return v
}

// changeText lists the attributes that differ as "  k: old → new"; a
// link's administrative state reads "up: down → up", and a veth's names
// its end as the kernel has it: "up: a:eth0 down → up".
func changeText(before, after *Resource) string {
	if before == nil || after == nil {
		return ""
	}
	// Sorted by the name shown: a veth's a.up and b.up read as "up".
	shown := func(k string) string {
		if _, up := upEnd(*after, k); up {
			return "up"
		}
		return k
	}
	keys := slices.Sorted(maps.Keys(after.Attrs))
	slices.SortStableFunc(keys, func(x, y string) int { return strings.Compare(shown(x), shown(y)) })
	var s []string
	for _, k := range keys {
		// An absent attribute reads as empty, as Diff compares them.
		old, ok := before.Attrs[k]
		if old == after.Attrs[k] {
			continue
		}
		if _, up := upEnd(*after, k); up {
			if !ok {
				continue // no such link yet: it is created up
			}
			end := ""
			if e, _ := upEnd(*before, k); before.Kind == KindVeth || before.Kind == KindNetns {
				end = e.Node + ":" + e.Ifname + " "
			}
			s = append(s, fmt.Sprintf("up: %s%s → %s", end, upText(old), upText(after.Attrs[k])))
			continue
		}
		if !ok {
			old = "(unset)"
		}
		s = append(s, fmt.Sprintf("%s: %s → %s", k, old, after.Attrs[k]))
	}
	if len(s) == 0 {
		return ""
	}
	return "  " + strings.Join(s, ", ")
}
