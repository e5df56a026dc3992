package loader

import (
	"strings"
	"unicode"
)

// The INI dialect is Python 3 configparser.ConfigParser as PasteDeploy
// configures it (strict, case-sensitive keys since optionxform = str,
// "=" or ":" as delimiter, "#" and ";" comment lines, no inline comments,
// indented continuation lines, empty lines kept inside values).
//
// It is hand-written rather than built on gopkg.in/ini.v1: go-ini keeps no
// line numbers for keys, and its dialect differs from ConfigParser's
// (inline comments, continuation and empty-line rules, duplicate handling,
// its own %(x)s interpolation), so every file would need re-checking
// anyway. The lexer below follows RawConfigParser._read line by line.

// pySpace is Python's str.isspace: Go's unicode.IsSpace plus the ASCII
// separators 0x1c..0x1f.
func pySpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

// pyTrim is Python's str.strip().
func pyTrim(s string) string { return strings.TrimFunc(s, pySpace) }

func parseINI(f *rawFile, data []byte) {
	text := strings.TrimPrefix(string(data), "\ufeff")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")

	var (
		cur         *rawSection // nil before the first header
		opt         = -1        // index in cur.opts of the key being continued; -2: a refused key
		lines       []string    // continuation lines of that key
		linenos     []int       // the line each of them is on
		indentLevel = 0
		warnedHead  = false
	)
	flush := func() {
		if cur != nil && opt >= 0 {
			v := strings.TrimRightFunc(strings.Join(lines, "\n"), pySpace)
			cur.opts.vals[opt].value = v
			cur.opts.vals[opt].lines = linenos[:strings.Count(v, "\n")+1]
		}
		opt, lines, linenos = -1, nil, nil
	}
	for n, line := range strings.Split(text, "\n") {
		lineno := n + 1
		value := pyTrim(line)
		if value == "" {
			if opt != -1 {
				lines, linenos = append(lines, ""), append(linenos, lineno)
			}
			continue
		}
		if value[0] == '#' || value[0] == ';' {
			continue
		}
		indent := strings.IndexFunc(line, func(r rune) bool { return !pySpace(r) })
		if cur != nil && opt != -1 && indent > indentLevel {
			lines, linenos = append(lines, value), append(linenos, lineno)
			continue
		}
		indentLevel = indent
		if value[0] == '[' {
			if j := strings.LastIndexByte(value, ']'); j >= 2 {
				flush()
				cur = f.openSection(value[1:j], lineno)
				continue
			}
			// ConfigParser reads "[netns:a" as the key "[netns" of the
			// section before: a lost section, silently. Refuse it.
			flush()
			f.errorf(lineno, "", "section header %q is not closed with ]", value)
			cur, opt = nil, -1
			warnedHead = true // what follows belongs to the broken header
			continue
		}
		if cur == nil {
			if !warnedHead {
				f.errorf(lineno, "", "line before the first [section] header")
				warnedHead = true
			}
			continue
		}
		delim := strings.IndexAny(value, "=:")
		if delim < 0 {
			flush()
			f.errorf(lineno, cur.id, "expected key = value, found %q", value)
			cur.partial = true
			continue
		}
		key := strings.TrimRightFunc(value[:delim], pySpace)
		if key == "" {
			flush()
			f.errorf(lineno, cur.id, "key missing before %q", value[delim:delim+1])
			cur.partial = true
			continue
		}
		flush()
		opt = -2
		if f.addOpt(cur, key, "", lineno, nil) {
			opt = len(cur.opts.vals) - 1
		}
		lines, linenos = []string{pyTrim(value[delim+1:])}, []int{lineno}
	}
	flush()
}
