package capture

import "strconv"

// The names lines give numbers in headers: gopacket's, which lines used
// before the Summarizer read headers itself, kept so that lines stay as
// they were.

// etherTypeName names an EtherType (0 for 802.3's LLC; no other is under
// 0x0600, which are lengths).
func etherTypeName(t uint16) string {
	switch t {
	case 0:
		return "LLC"
	case 0x0800:
		return "IPv4"
	case 0x0806:
		return "ARP"
	case 0x86dd:
		return "IPv6"
	case 0x2000:
		return "CiscoDiscovery"
	case 0x6558:
		return "TransparentEthernetBridging"
	case 0x8100, 0x88a8:
		return "Dot1Q"
	case 0x880b:
		return "PPP"
	case 0x8863:
		return "PPPoEDiscovery"
	case 0x8864:
		return "PPPoESession"
	case 0x8847:
		return "MPLSUnicast"
	case 0x8848:
		return "MPLSMulticast"
	case 0x888e:
		return "EAPOL"
	case 0x88be:
		return "ERSPAN Type II"
	case 0x88cc:
		return "LinkLayerDiscovery"
	case 0x9000:
		return "EthernetCTP"
	}
	return "UnknownEthernetType"
}

// ipProtocolNames name IP protocol numbers.
var ipProtocolNames = [256]string{
	0:   "IPv6HopByHop",
	1:   "ICMPv4",
	2:   "IGMP",
	4:   "IPv4",
	6:   "TCP",
	17:  "UDP",
	27:  "RUDP",
	41:  "IPv6",
	43:  "IPv6Routing",
	44:  "IPv6Fragment",
	47:  "GRE",
	50:  "IPSecESP",
	51:  "IPSecAH",
	58:  "ICMPv6",
	59:  "NoNextHeader",
	60:  "IPv6Destination",
	89:  "OSPF",
	94:  "IPv4",
	97:  "EtherIP",
	112: "VRRP",
	132: "SCTP",
	136: "UDPLite",
	137: "MPLS",
}

func ipProtocolName(p uint8) string {
	if n := ipProtocolNames[p]; n != "" {
		return n
	}
	return "UnknownIPProtocol"
}

// ICMP echo's types.
const (
	icmpEchoReply   = 0
	icmpEchoRequest = 8
)

// icmpType is an ICMP type's name, and its codes' if it names them.
func icmpType(typ uint8) (name string, codes []string) {
	switch typ {
	case icmpEchoReply:
		return "EchoReply", nil
	case 3:
		return "DestinationUnreachable", icmpUnreachable
	case 4:
		return "SourceQuench", nil
	case 5:
		return "Redirect", icmpRedirect
	case icmpEchoRequest:
		return "EchoRequest", nil
	case 9:
		return "RouterAdvertisement", nil
	case 10:
		return "RouterSolicitation", nil
	case 11:
		return "TimeExceeded", icmpTimeExceeded
	case 12:
		return "ParameterProblem", icmpParameterProblem
	case 13:
		return "TimestampRequest", nil
	case 14:
		return "TimestampReply", nil
	case 15:
		return "InfoRequest", nil
	case 16:
		return "InfoReply", nil
	case 17:
		return "AddressMaskRequest", nil
	case 18:
		return "AddressMaskReply", nil
	}
	return "", nil
}

// The names of ICMP codes, by code, for the types that name theirs.
var (
	icmpUnreachable = []string{"Net", "Host", "Protocol", "Port", "FragmentationNeeded",
		"SourceRoutingFailed", "NetUnknown", "HostUnknown", "SourceIsolated", "NetAdminProhibited",
		"HostAdminProhibited", "NetTOS", "HostTOS", "CommAdminProhibited", "HostPrecedence", "PrecedenceCutoff"}
	icmpRedirect         = []string{"Net", "Host", "TOS+Net", "TOS+Host"}
	icmpTimeExceeded     = []string{"TTLExceeded", "FragmentReassemblyTimeExceeded"}
	icmpParameterProblem = []string{"PointerIndicatesError", "MissingOption", "BadLength"}
)

// icmpv6Type is an ICMPv6 type's name, and its codes' if it names them.
func icmpv6Type(typ uint8) (name string, codes []string) {
	switch typ {
	case 1:
		return "DestinationUnreachable", icmpv6Unreachable
	case 2:
		return "PacketTooBig", nil
	case 3:
		return "TimeExceeded", icmpv6TimeExceeded
	case 4:
		return "ParameterProblem", icmpv6ParameterProblem
	case icmpv6EchoRequest:
		return "EchoRequest", nil
	case icmpv6EchoReply:
		return "EchoReply", nil
	case 133:
		return "RouterSolicitation", nil
	case 134:
		return "RouterAdvertisement", nil
	case icmpv6Solicitation:
		return "NeighborSolicitation", nil
	case icmpv6Advertisement:
		return "NeighborAdvertisement", nil
	case 137:
		return "Redirect", nil
	}
	return "", nil
}

// The names of ICMPv6 codes, by code, for the types that name theirs.
var (
	icmpv6Unreachable = []string{"NoRouteToDst", "AdminProhibited", "BeyondScopeOfSrc",
		"AddressUnreachable", "PortUnreachable", "SrcAddressFailedPolicy", "RejectRouteToDst"}
	icmpv6TimeExceeded     = []string{"HopLimitExceeded", "FragmentReassemblyTimeExceeded"}
	icmpv6ParameterProblem = []string{"ErroneousHeaderField", "UnrecognizedNextHeader", "UnrecognizedIPv6Option"}
)

// icmpName names an ICMP type and code: "DestinationUnreachable(Port)",
// "EchoRequest", "SourceQuench(Code: 1)", "42(0)".
func icmpName(typ, code uint8) string {
	name, codes := icmpType(typ)
	return typeCodeName(name, codes, typ, code)
}

// icmpv6Name names an ICMPv6 type and code, as icmpName does ICMP's.
func icmpv6Name(typ, code uint8) string {
	name, codes := icmpv6Type(typ)
	return typeCodeName(name, codes, typ, code)
}

// typeCodeName is the name of an ICMP or ICMPv6 type and code: the type's
// name alone when it names no codes and code is 0, else with the code's
// name or number in brackets; numbers alone for an unknown type.
func typeCodeName(name string, codes []string, typ, code uint8) string {
	switch {
	case name == "":
		return strconv.Itoa(int(typ)) + "(" + strconv.Itoa(int(code)) + ")"
	case codes == nil && code == 0:
		return name
	case int(code) < len(codes):
		return name + "(" + codes[code] + ")"
	}
	return name + "(Code: " + strconv.Itoa(int(code)) + ")"
}
