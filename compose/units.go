package compose

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The units of qdisc attributes. The lowering writes them and the kernel
// driver reads the kernel's values back into them, with the same
// functions, so that a desired and an observed qdisc compare as strings:
// a delay is whole microseconds ("250us", "40ms", "1.5ms"), a probability
// thousandths of a percent ("1%", "0.25%"), a rate bits per second in
// whole bytes ("10mbit"). Zero is "0" in every unit.

// ParseMicros reads a duration with its unit ("40ms", "1.5ms", "250us",
// "1s"; "0" alone needs none) as whole microseconds, at most hi.
func ParseMicros(s string, hi time.Duration) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("%q has no unit (like %sms)", s, s)
	}
	d, err := time.ParseDuration(strings.ReplaceAll(s, "µs", "us"))
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a duration (like 40ms, 1.5ms or 250us)", s)
	case d < 0:
		return 0, fmt.Errorf("%q is negative", s)
	case d%time.Microsecond != 0:
		return 0, fmt.Errorf("%q is finer than a microsecond", s)
	case d > hi:
		return 0, fmt.Errorf("%q is more than %s", s, hi)
	}
	return d.Microseconds(), nil
}

// MicrosText writes microseconds: "0", "250us" below a millisecond,
// else milliseconds with the fraction they need ("40ms", "1.5ms").
func MicrosText(us int64) string {
	switch {
	case us == 0:
		return "0"
	case us < 1000:
		return strconv.FormatInt(us, 10) + "us"
	}
	return decimal(us, 3) + "ms"
}

// ParsePercent reads a probability as a percentage, with or without the
// sign as tc takes it ("1", "0.5", "0.001%"; an INI file writes the sign
// %% or leaves it out, since % starts an interpolation there), as
// thousandths of a percent, 0..100000.
func ParsePercent(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num, _ := strings.CutSuffix(s, "%")
	n, err := parseDecimal(strings.TrimSpace(num), 3)
	if err != nil || n > 100000 {
		return 0, fmt.Errorf("%q is not a percentage in 0..100 with at most 3 decimals (like 1 or 0.5)", s)
	}
	return n, nil
}

// PercentText writes thousandths of a percent: "0", "1%", "0.25%".
func PercentText(milli int64) string {
	if milli == 0 {
		return "0"
	}
	return decimal(milli, 3) + "%"
}

// rateUnits are tc's names for bit rates, decimal as tc has them
// (1mbit = 1000000 bit/s). tc's "bps" units count bytes: left out, as
// too easy to misread.
var rateUnits = []struct {
	name string
	bits uint64
}{{"tbit", 1e12}, {"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}}

// ParseRate reads a bit rate with its unit ("10mbit", "1.5gbit",
// "512kbit", "8000bit"; case does not matter; "0" alone needs none): bits
// per second, a whole number of bytes per second since that is what the
// kernel keeps.
func ParseRate(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	low := strings.ToLower(s)
	for _, u := range rateUnits {
		num, ok := strings.CutSuffix(low, u.name)
		if !ok {
			continue
		}
		// 1.5gbit: the digits after the point, as a count of the unit's
		// thousandths, millionths, ...
		decimals := len(strconv.FormatUint(u.bits, 10)) - 1
		n, err := parseDecimal(strings.TrimSpace(num), decimals)
		if err != nil || n < 0 || n > 1<<62 {
			return 0, fmt.Errorf("%q is not a rate (like 10mbit)", s)
		}
		bits := uint64(n)
		if bits%8 != 0 {
			return 0, fmt.Errorf("%q is not a whole number of bytes per second (the kernel counts bytes)", s)
		}
		return bits, nil
	}
	return 0, fmt.Errorf("%q is not a rate: want a number and bit, kbit, mbit or gbit (like 10mbit)", s)
}

// RateText writes bits per second in the largest unit that divides them:
// "10mbit", "1500kbit", "0".
func RateText(bits uint64) string {
	if bits == 0 {
		return "0"
	}
	for _, u := range rateUnits {
		if bits%u.bits == 0 {
			return strconv.FormatUint(bits/u.bits, 10) + u.name
		}
	}
	return strconv.FormatUint(bits, 10) + "bit"
}

// parseDecimal reads a non-negative decimal number with at most places
// digits after the point, as an integer count of 10^-places.
func parseDecimal(s string, places int) (int64, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(frac) > places || strings.ContainsAny(whole+frac, "+-eE_") {
		return 0, errors.New("not a decimal")
	}
	frac += strings.Repeat("0", places-len(frac))
	if whole == "" {
		whole = "0"
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// decimal writes n/10^places with the fraction it needs: 1500,3 → "1.5".
func decimal(n int64, places int) string {
	p := int64(1)
	for range places {
		p *= 10
	}
	s := strconv.FormatInt(n/p, 10)
	if f := n % p; f != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%0*d", places, f), "0")
	}
	return s
}
