package nfqueue

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// A line of `iptables -S CHAIN`, split into its words and read back into a
// Rule. Both iptables-nft and iptables-legacy print what this package
// writes in the same form (checked by the tests against each).

// splitLine splits a line of iptables -S into words. Words may be double
// quoted, with \" and \\ escaped inside (how iptables prints a comment).
func splitLine(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
		case quoted && c == '"':
			quoted = false
		case quoted:
			w.WriteByte(c)
		case c == '"':
			quoted, inWord = true, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// line is one "-A CHAIN ..." line, read.
type line struct {
	chain   string
	comment string
	target  string
	args    []string // the words after "-A CHAIN", for deleting it as printed
}

func readLine(s string) (line, bool) {
	w, err := splitLine(s)
	if err != nil || len(w) < 2 || w[0] != "-A" {
		return line{}, false
	}
	l := line{chain: w[1], args: w[2:]}
	for i := 2; i+1 < len(w); i++ {
		switch w[i] {
		case "--comment":
			l.comment = w[i+1]
		case "-j":
			l.target = w[i+1]
		}
	}
	return l, true
}

var protoNames = map[string]string{
	"tcp": "tcp", "6": "tcp",
	"udp": "udp", "17": "udp",
	"icmp": "icmp", "1": "icmp",
	"icmpv6": "icmpv6", "ipv6-icmp": "icmpv6", "58": "icmpv6",
}

// parseRule reads the words of a queue rule (after "-A CHAIN") into r,
// whose Lab, Name, Family and Chain the caller has set. An option it never
// writes is an error: the caller keeps such a rule as Unparsed.
func parseRule(words []string, r *Rule) error {
	target := ""
	for i := 0; i < len(words); i++ {
		opt := words[i]
		if opt == "--queue-bypass" {
			r.Bypass = true
			continue
		}
		if opt == "-c" { // counters, as go-iptables rewrites nft's [p:b]
			i += 2
			continue
		}
		if i+1 >= len(words) {
			return fmt.Errorf("option %s without a value", opt)
		}
		val := words[i+1]
		i++
		var err error
		switch opt {
		case "-s":
			r.Source, err = netip.ParsePrefix(val)
		case "-d":
			r.Destination, err = netip.ParsePrefix(val)
		case "-i":
			r.In = val
		case "-o":
			r.Out = val
		case "-p":
			p, ok := protoNames[val]
			if !ok {
				return fmt.Errorf("protocol %q", val)
			}
			r.Protocol = p
		case "-m":
			if val != "tcp" && val != "udp" && val != "comment" {
				return fmt.Errorf("match %q", val)
			}
		case "--sport":
			r.Sport = val
		case "--dport":
			r.Dport = val
		case "--comment":
		case "-j":
			target = val
		case "--queue-num":
			var n uint64
			n, err = strconv.ParseUint(val, 10, 16)
			r.QueueFirst, r.QueueLast = uint16(n), uint16(n)
		case "--queue-balance":
			a, b, ok := strings.Cut(val, ":")
			x, err1 := strconv.ParseUint(a, 10, 16)
			y, err2 := strconv.ParseUint(b, 10, 16)
			if !ok || err1 != nil || err2 != nil {
				return fmt.Errorf("queue balance %q", val)
			}
			r.QueueFirst, r.QueueLast = uint16(x), uint16(y)
		default:
			return fmt.Errorf("option %s", opt)
		}
		if err != nil {
			return fmt.Errorf("option %s %s: %w", opt, val, err)
		}
	}
	if target != "NFQUEUE" {
		return errors.New("target is not NFQUEUE")
	}
	return nil
}
