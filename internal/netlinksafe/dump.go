// Package netlinksafe retries netlink dumps that the kernel interrupted.
//
// A dump that races a change to the table it walks ends with
// NLM_F_DUMP_INTR, which vishvananda/netlink reports as ErrDumpInterrupted
// alongside a possibly incomplete result. The dump is consistent again if
// asked once more, so every dump in netcompose goes through Dump (the idea
// of containernetworking/plugins pkg/netlinksafe, in one generic function).
package netlinksafe

import (
	"errors"

	"github.com/vishvananda/netlink"
)

// Retries bounds how often an interrupted dump is asked again.
const Retries = 10

// Dump runs f, asking again while the kernel reports the dump interrupted.
func Dump[T any](f func() (T, error)) (T, error) {
	for i := 0; ; i++ {
		v, err := f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) || i == Retries {
			return v, err
		}
	}
}
