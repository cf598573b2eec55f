package main

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// netsetupFlags are the NETSETUP_* option bits (MS-WKST 3.2.4.13,
// 3.2.4.14, 3.2.4.22, 3.2.4.23), from the table the server uses.
var netsetupFlags = joinlogic.OptionNames

// parseOptions reads an Options value: either a number (hex with 0x, or
// decimal) or a list of flag names separated by ',', '|' or '+', with or
// without the NETSETUP_ prefix, in any letter case.
func parseOptions(s string) (uint32, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty options")
	}
	if s[0] >= '0' && s[0] <= '9' {
		v, err := strconv.ParseUint(s, 0, 32)
		if err != nil {
			return 0, fmt.Errorf("options %q: not a 32-bit number", s)
		}
		return uint32(v), nil
	}
	var v uint32
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '|' || r == '+' }) {
		name := strings.ToUpper(strings.TrimSpace(part))
		name = strings.TrimPrefix(name, "NETSETUP_")
		bit, ok := flagBit(name)
		if !ok {
			return 0, fmt.Errorf("unknown option %q (known: %s)", strings.TrimSpace(part), knownFlags())
		}
		v |= bit
	}
	return v, nil
}

func flagBit(name string) (uint32, bool) {
	for _, f := range netsetupFlags {
		if f.Name == name {
			return f.Bit, true
		}
	}
	return 0, false
}

func knownFlags() string {
	names := make([]string, len(netsetupFlags))
	for i, f := range netsetupFlags {
		names[i] = f.Name
	}
	return strings.Join(names, ",")
}

// formatOptions renders v as "0x00000003 (JOIN_DOMAIN|ACCT_CREATE)"; bits
// without a name are shown as hex.
func formatOptions(v uint32) string {
	var names []string
	rest := v
	for _, f := range netsetupFlags {
		if v&f.Bit != 0 {
			names = append(names, f.Name)
			rest &^= f.Bit
		}
	}
	for rest != 0 {
		b := uint32(1) << bits.TrailingZeros32(rest)
		names = append(names, fmt.Sprintf("0x%X", b))
		rest &^= b
	}
	if len(names) == 0 {
		return "0x00000000"
	}
	return fmt.Sprintf("0x%08X (%s)", v, strings.Join(names, "|"))
}
