package check

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// AllPassed reports whether every result passed.
func AllPassed(results []Result) bool {
	for _, r := range results {
		if !r.Pass {
			return false
		}
	}
	return true
}

// WriteTable prints one line per result and a summary line.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tPROTO\tFROM\tTARGET\tEXPECT\tRESULT\tRTT\tREASON")
	passed := 0
	for _, r := range results {
		res := "FAIL"
		if r.Pass {
			res = "ok"
			passed++
		}
		rtt := "-"
		if r.RTT > 0 {
			rtt = roundRTT(r.RTT).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.Name, r.Protocol, r.From, r.Target, r.Expect, res, rtt, r.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d/%d checks passed\n", passed, len(results))
	return err
}

// WriteJSON writes results as an indented JSON array.
func WriteJSON(w io.Writer, results []Result) error {
	if results == nil {
		results = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}

// JUnit XML, in the subset CI systems (Jenkins, GitLab, GitHub actions
// reporters) read.
type junitSuite struct {
	XMLName  xml.Name    `xml:"testsuite"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes results as one JUnit test suite named suite.
func WriteJUnit(w io.Writer, suite string, results []Result) error {
	s := junitSuite{Name: suite, Tests: len(results)}
	var total time.Duration
	for _, r := range results {
		c := junitCase{Name: r.Name, Classname: suite + "." + r.Protocol, Time: seconds(r.Duration)}
		if r.Pass {
			c.SystemOut = r.Reason
		} else {
			s.Failures++
			c.Failure = &junitFailure{Message: r.Reason, Type: r.Protocol,
				Text: fmt.Sprintf("%s from %s to %s, expect %s: %s", r.Protocol, r.From, r.Target, r.Expect, r.Reason)}
		}
		if r.Detail != "" {
			c.SystemOut += "\n" + r.Detail
		}
		total += r.Duration
		s.Cases = append(s.Cases, c)
	}
	s.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
