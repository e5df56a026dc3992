package main

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/netcompose/netcompose/compose"
)

// The inventory is the contract with deploy/ansible: its playbook applies
// the slice netcompose_host of netcompose_lab_file on every machine of the
// group, loading the file with netcompose_set (docs/multihost.md).
const (
	inventoryGroup = "netcompose"
	varLab         = "netcompose_lab"
	varLabFile     = "netcompose_lab_file"
	varSet         = "netcompose_set"
	varHost        = "netcompose_host"
	varAddress     = "ansible_host"
)

func newInventoryCmd() *cobra.Command {
	var format string
	var names, addrs []string
	cmd := &cobra.Command{
		Use:   "inventory FILE",
		Short: "Print a multi-host lab's [host:] sections as an Ansible inventory (for deploy/ansible)",
		Long: `Print a multi-host lab's [host:] sections as an Ansible inventory: one group,
netcompose, with a machine per host, reached at its underlay address
(ansible_host), the host's name as netcompose_host and the lab file's
absolute path as netcompose_lab_file. deploy/ansible/playbook.yml applies
it (docs/multihost.md):

  netcompose inventory lab.ini > hosts.yml
  ansible-playbook -i hosts.yml deploy/ansible/playbook.yml

To use the names your inventory already has, map them with --name; the
renamed machines get no ansible_host (yours says how to reach them), and
ansible-playbook -i yours -i hosts.yml merges the two.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var write func(io.Writer, *compose.Inventory) error
			switch format {
			case "yaml":
				write = writeInventoryYAML
			case "ini":
				write = writeInventoryINI
			default:
				return fmt.Errorf("inventory: unknown output format %q (want yaml or ini)", format)
			}
			opts, err := inventoryOptions(args[0], names, addrs)
			if err != nil {
				return err
			}
			lab, err := loadLab(args[0])
			if err != nil {
				return err
			}
			inv, err := lab.Inventory(opts)
			if err != nil {
				return err
			}
			return write(cmd.OutOrStdout(), inv)
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "yaml", "inventory format: yaml or ini")
	cmd.Flags().StringArrayVar(&names, "name", nil, "HOST=NAME: lab host HOST is the machine NAME of your inventory (then no ansible_host; repeatable)")
	cmd.Flags().StringArrayVar(&addrs, "ansible-host", nil, "HOST=ADDR: reach lab host HOST at ADDR, not at its underlay address (repeatable)")
	return cmd
}

// inventoryOptions reads the flags: --name and --ansible-host as
// HOST=VALUE, the file as an absolute path (the playbook copies it from
// wherever it runs), and this run's --set globals.
func inventoryOptions(path string, names, addrs []string) (compose.InventoryOptions, error) {
	var o compose.InventoryOptions
	abs, err := filepath.Abs(path)
	if err != nil {
		return o, fmt.Errorf("inventory: %w", err)
	}
	o.LabFile = abs
	if o.Names, err = hostValues("--name", "HOST=NAME", names); err != nil {
		return o, err
	}
	if o.Addresses, err = hostValues("--ansible-host", "HOST=ADDR", addrs); err != nil {
		return o, err
	}
	if p := setGlobals.Load(); p != nil {
		for _, v := range *p {
			o.Set = append(o.Set, v.Key+"="+v.Value)
		}
	}
	return o, nil
}

// hostValues parses repeated HOST=VALUE flags; the last one for a host wins.
func hostValues(flag, want string, list []string) (map[string]string, error) {
	m := map[string]string{}
	for _, s := range list {
		h, v, ok := strings.Cut(s, "=")
		if !ok || h == "" || v == "" {
			return nil, fmt.Errorf("inventory: %s %q: want %s", flag, s, want)
		}
		m[h] = v
	}
	return m, nil
}

func inventoryHeader(inv *compose.Inventory) string {
	return fmt.Sprintf("# Lab %s as an Ansible inventory, from netcompose inventory.\n"+
		"# Apply it: ansible-playbook -i THIS_FILE deploy/ansible/playbook.yml (docs/multihost.md)\n", inv.Lab)
}

// hostVars are a machine's variables, in the order they are written.
func hostVars(h compose.InventoryHost) [][2]string {
	var vars [][2]string
	if h.Address != "" {
		vars = append(vars, [2]string{varAddress, h.Address})
	}
	return append(vars, [2]string{varHost, h.LabHost})
}

// yamlString is s as a YAML string that Ansible's PyYAML reads back as that
// string. PyYAML speaks YAML 1.1, where on, no and y are booleans and
// 1:20 a number, so anything but a plain name, path or IPv4 address is
// double-quoted.
func yamlString(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	plain := yamlPlain().MatchString(s) && !slices.Contains(yaml11Words, strings.ToLower(s))
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		plain = true
	}
	if !plain {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

var (
	yamlPlain   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z/][A-Za-z0-9_./=@+-]*$`) })
	yaml11Words = []string{"y", "n", "yes", "no", "true", "false", "on", "off", "null"}
)

func writeInventoryYAML(w io.Writer, inv *compose.Inventory) error {
	mapping := func(kv ...*yaml.Node) *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Content: kv} }
	hosts := mapping()
	for _, h := range inv.Hosts {
		vars := mapping()
		for _, v := range hostVars(h) {
			vars.Content = append(vars.Content, yamlString(v[0]), yamlString(v[1]))
		}
		hosts.Content = append(hosts.Content, yamlString(h.Name), vars)
	}
	vars := mapping(yamlString(varLab), yamlString(inv.Lab), yamlString(varLabFile), yamlString(inv.LabFile))
	if len(inv.Set) > 0 {
		set := &yaml.Node{Kind: yaml.SequenceNode}
		for _, s := range inv.Set {
			set.Content = append(set.Content, yamlString(s))
		}
		vars.Content = append(vars.Content, yamlString(varSet), set)
	}
	top := mapping(yamlString(inventoryGroup), mapping(yamlString("hosts"), hosts, yamlString("vars"), vars))
	if _, err := io.WriteString(w, inventoryHeader(inv)); err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{top}}); err != nil {
		return err
	}
	return enc.Close()
}

// writeInventoryINI writes Ansible's INI inventory. Ansible reads every
// value there with Python's ast.literal_eval, after shlex on a host line:
// a host name such as 1 or 1e5 would become a number, so values that could
// are written as Python string literals.
func writeInventoryINI(w io.Writer, inv *compose.Inventory) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(inventoryHeader(inv))
	fmt.Fprintf(bw, "[%s]\n", inventoryGroup)
	for _, h := range inv.Hosts {
		bw.WriteString(h.Name)
		for _, v := range hostVars(h) {
			fmt.Fprintf(bw, " %s=%s", v[0], iniHostValue(v[1]))
		}
		bw.WriteString("\n")
	}
	fmt.Fprintf(bw, "\n[%s:vars]\n", inventoryGroup)
	fmt.Fprintf(bw, "%s=%s\n", varLab, pyString(inv.Lab))
	fmt.Fprintf(bw, "%s=%s\n", varLabFile, pyString(inv.LabFile))
	if len(inv.Set) > 0 {
		quoted := make([]string, len(inv.Set))
		for i, s := range inv.Set {
			quoted[i] = pyString(s)
		}
		fmt.Fprintf(bw, "%s=[%s]\n", varSet, strings.Join(quoted, ", "))
	}
	return bw.Flush()
}

// iniHostValue writes v on a host line: bare when literal_eval cannot
// take it for anything but a string (a name starting with a letter, an
// IP address), else a Python literal inside shlex's double quotes.
func iniHostValue(v string) string {
	if _, err := netip.ParseAddr(v); err == nil {
		return v
	}
	bare := v != "" && v != "True" && v != "False" && v != "None" &&
		(v[0] >= 'a' && v[0] <= 'z' || v[0] >= 'A' && v[0] <= 'Z') &&
		!strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || strings.ContainsRune(`#'"\`, r) })
	if bare {
		return v
	}
	q := pyString(v)
	q = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(q)
	return `"` + q + `"`
}

// pyString is s as a Python string literal in single quotes.
func pyString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}
