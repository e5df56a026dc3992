package kernel

import (
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendJSON appends the record as json.MarshalIndent(r, "", "  ") writes
// it, byte for byte (TestRecordJSONIsEncodingJSONs), without reflection:
// encoding/json builds its encoder for the record's types on first use,
// which costs a command that writes one record more than the writing.
func (r *record) appendJSON(b []byte) []byte {
	b = append(b, "{\n  \"lab\": "...)
	b = appendJSONString(b, r.Lab)
	b = append(b, ",\n  \"nodes\": "...)
	b = appendStrings(b, r.Nodes, "  ")
	if len(r.Inodes) > 0 {
		b = append(b, ",\n  \"inodes\": {"...)
		for i, n := range slices.Sorted(maps.Keys(r.Inodes)) {
			b = appendKey(b, i, "    ", n)
			b = strconv.AppendUint(b, r.Inodes[n], 10)
		}
		b = append(b, "\n  }"...)
	}
	if len(r.Sysctls) > 0 {
		b = append(b, ",\n  \"sysctls\": {"...)
		for i, n := range slices.Sorted(maps.Keys(r.Sysctls)) {
			b = appendKey(b, i, "    ", n)
			if r.Sysctls[n] == nil {
				b = append(b, "null"...)
				continue
			}
			b = append(b, '{')
			for j, k := range slices.Sorted(maps.Keys(r.Sysctls[n])) {
				b = appendKey(b, j, "      ", k)
				b = appendJSONString(b, r.Sysctls[n][k])
			}
			if len(r.Sysctls[n]) > 0 {
				b = append(b, "\n    "...)
			}
			b = append(b, '}')
		}
		b = append(b, "\n  }"...)
	}
	if len(r.Dumps) > 0 {
		b = append(b, ",\n  \"dumps\": {"...)
		for i, k := range slices.Sorted(maps.Keys(r.Dumps)) {
			b = appendKey(b, i, "    ", string(k))
			b = appendStrings(b, r.Dumps[k], "    ")
		}
		b = append(b, "\n  }"...)
	}
	if len(r.RuleNodes) > 0 {
		b = append(b, ",\n  \"rule_nodes\": "...)
		b = appendStrings(b, r.RuleNodes, "  ")
	}
	if r.Format != 0 {
		b = append(b, ",\n  \"format\": "...)
		b = strconv.AppendInt(b, int64(r.Format), 10)
	}
	if r.Supervisor != nil {
		b = append(b, ",\n  \"supervisor\": {\n    \"pid\": "...)
		b = strconv.AppendInt(b, int64(r.Supervisor.PID), 10)
		b = append(b, ",\n    \"start_time\": "...)
		b = strconv.AppendUint(b, r.Supervisor.StartTime, 10)
		b = append(b, "\n  }"...)
	}
	return append(b, "\n}"...)
}

// appendKey starts the i-th member of an object whose members are
// indented by indent.
func appendKey(b []byte, i int, indent, key string) []byte {
	if i > 0 {
		b = append(b, ',')
	}
	b = append(b, '\n')
	b = append(b, indent...)
	b = appendJSONString(b, key)
	return append(b, ": "...)
}

// appendStrings appends a string array whose brackets are indented by
// indent: null for nil, [] for empty.
func appendStrings(b []byte, ss []string, indent string) []byte {
	switch {
	case ss == nil:
		return append(b, "null"...)
	case len(ss) == 0:
		return append(b, "[]"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '\n')
		b = append(b, indent...)
		b = append(b, "  "...)
		b = appendJSONString(b, s)
	}
	b = append(b, '\n')
	b = append(b, indent...)
	return append(b, ']')
}

// appendJSONString appends s quoted as encoding/json quotes it: HTML
// characters and U+2028/U+2029 escaped, invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
