// Package hdrtest builds raw IP headers for the tests of the packages
// that read them (hdr, nfqueue/filter, capture): each header well formed,
// for a test to break one field at a time with With.
package hdrtest

import (
	"bytes"
	"encoding/binary"
)

// IPv4 is an IPv4 header from src to dst, TTL 64, protocol proto, with
// options opts (a multiple of 4 bytes) and the total length right, then
// payload.
func IPv4(src, dst []byte, proto byte, opts []byte, payload ...byte) []byte {
	h := make([]byte, 20, 20+len(opts)+len(payload))
	h[0] = 0x40 | byte((20+len(opts))/4)
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(opts)+len(payload)))
	h[8], h[9] = 64, proto
	copy(h[12:], src)
	copy(h[16:], dst)
	h = append(h, opts...)
	return append(h, payload...)
}

// IPv6 is an IPv6 header from src to dst, next header next, hop limit
// hlim, with the payload length right, then payload.
func IPv6(src, dst []byte, next, hlim byte, payload ...byte) []byte {
	h := make([]byte, 40, 40+len(payload))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = next, hlim
	copy(h[8:], src)
	copy(h[24:], dst)
	return append(h, payload...)
}

// Ext is an IPv6 extension header (hop-by-hop, routing, destination
// options) with next header next and body: 2+len(body) must be a
// multiple of 8, padded as the caller chooses.
func Ext(next byte, body []byte, payload ...byte) []byte {
	h := append([]byte{next, byte((2+len(body))/8 - 1)}, body...)
	return append(h, payload...)
}

// With is a copy of b with the bytes at i on replaced by v.
func With(b []byte, i int, v ...byte) []byte {
	b = bytes.Clone(b)
	copy(b[i:], v)
	return b
}
