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
		line := "  " + c.Action.Symbol() + " " + Label(c.Resource())
		switch c.Action {
		case Create:
			line += attrText(c.After)
		case Update:
			line += changeText(c.Before, c.After)
		case Replace:
			line += changeText(c.Before, c.After)
		}
		switch {
		case c.Cascade:
			line += " (with its parent)"
		case c.Reason != "":
			line += " (" + c.Reason + ")"
		}
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

// Label names a resource for people: "netns a", "veth a-b",
// "addr a eth0/10.0.0.1/24".
func Label(r Resource) string {
	parts := []string{string(r.Kind)}
	if r.Node != "" {
		parts = append(parts, r.Node)
	}
	if r.Name != "" {
		parts = append(parts, r.Name)
	}
	return strings.Join(parts, " ")
}

// attrText lists attributes as "  k=v k=v", sorted by key; a veth shows
// its ends first as "a:eth0 <-> b:eth0".
func attrText(r *Resource) string {
	if len(r.Attrs) == 0 {
		return ""
	}
	var s []string
	skip := map[string]bool{}
	if r.Kind == KindVeth {
		e := r.Ends()
		s = append(s, e[0].Node+":"+e[0].Ifname+" <-> "+e[1].Node+":"+e[1].Ifname)
		skip = map[string]bool{"a.node": true, "a.ifname": true, "b.node": true, "b.ifname": true}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Attrs)) {
		if !skip[k] {
			s = append(s, k+"="+r.Attrs[k])
		}
	}
	return "  " + strings.Join(s, " ")
}

// changeText lists the attributes that differ as "  k: old → new".
func changeText(before, after *Resource) string {
	if before == nil || after == nil {
		return ""
	}
	var s []string
	for _, k := range slices.Sorted(maps.Keys(after.Attrs)) {
		old, ok := before.Attrs[k]
		if ok && old == after.Attrs[k] {
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
