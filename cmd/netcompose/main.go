package main

import (
	_ "github.com/coder/websocket"
	_ "github.com/coreos/go-iptables/iptables"
	_ "github.com/florianl/go-nfqueue/v2"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/pmorjan/kmod"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/spf13/cobra"
	_ "github.com/vishvananda/netlink"
	_ "github.com/vishvananda/netns"
	_ "golang.org/x/net/icmp"
	_ "gopkg.in/ini.v1"
	_ "gopkg.in/yaml.v3"
)

func main() {}
