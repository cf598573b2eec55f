package netlogon

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/oiweiwei/go-msrpc/msrpc/dtyp"
	"github.com/oiweiwei/go-msrpc/msrpc/nrpc/logon/v1"
)

// NTSTATUS values the callers tell apart (MS-ERREF 2.3.1).
const (
	statusAccessDenied      = 0xC0000022
	statusNoSuchUser        = 0xC0000064
	statusWrongPassword     = 0xC000006A
	statusLogonFailure      = 0xC000006D
	statusAccountRestrict   = 0xC000006E
	statusInvalidLogonHours = 0xC000006F
	statusInvalidWorkstatn  = 0xC0000070
	statusPasswordExpired   = 0xC0000071
	statusAccountDisabled   = 0xC0000072
	statusNoLogonServers    = 0xC000005E
	statusAccountExpired    = 0xC0000193
	statusPasswordMustChg   = 0xC0000224
	statusAccountLockedOut  = 0xC0000234
	statusNoTrustSAMAccount = 0xC000018B
	statusInvalidInfoClass  = 0xC0000003
	statusNotSupported      = 0xC00000BB
)

// StatusError is a call the DC answered with a failure NTSTATUS.
type StatusError struct {
	Call   string
	Status uint32
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("netlogon: %s: %s (0x%08x)", e.Call, statusText(e.Status), e.Status)
}

// Reason is the NTSTATUS as an operator reads it in a log line.
func (e *StatusError) Reason() string { return statusText(e.Status) }

func statusText(s uint32) string {
	switch s {
	case statusAccessDenied:
		return "access denied"
	case statusNoSuchUser:
		return "no such user"
	case statusWrongPassword:
		return "wrong password"
	case statusLogonFailure:
		return "logon failure"
	case statusAccountRestrict:
		return "account restriction"
	case statusInvalidLogonHours:
		return "outside the allowed logon hours"
	case statusInvalidWorkstatn:
		return "not allowed from this workstation"
	case statusPasswordExpired:
		return "password expired"
	case statusAccountDisabled:
		return "account disabled"
	case statusAccountExpired:
		return "account expired"
	case statusPasswordMustChg:
		return "password must change"
	case statusAccountLockedOut:
		return "account locked out"
	case statusNoTrustSAMAccount:
		return "no trust account for this computer"
	case statusNoLogonServers:
		return "no logon servers"
	}
	return "NTSTATUS 0x" + strconv.FormatUint(uint64(s), 16)
}

// statusOf returns the StatusError of a call that returned ret (an
// NTSTATUS) with err; nil when the failure was not the DC's answer.
func statusOf(ret int32, err error) *StatusError {
	if err == nil || ret == 0 {
		return nil
	}
	return &StatusError{Status: uint32(ret)}
}

// callError turns a failed call into a StatusError (the DC answered) or an
// ErrUnreachable (the call did not complete).
func callError(call string, ret *int32, err error) error {
	if ret != nil && *ret != 0 {
		return &StatusError{Call: call, Status: uint32(*ret)}
	}
	return fmt.Errorf("%w: %s: %v", ErrUnreachable, call, err)
}

// NetworkLogon is an NTLM network logon to validate (MS-NRPC 2.2.1.4.5
// NETLOGON_NETWORK_INFO): the names and responses of the client's
// AUTHENTICATE_MESSAGE and the server challenge it answered.
type NetworkLogon struct {
	User, Domain, Workstation string
	ServerChallenge           [8]byte
	NTResponse, LMResponse    []byte
}

// Validation is what the DC returns for a successful logon.
type Validation struct {
	// User and Domain are the account's sAMAccountName and NetBIOS domain.
	User, Domain string
	// SIDs: the user's SID, its primary group, its groups, the extra SIDs
	// and resource groups (MS-APDS 3.1.5.1.2, as MS-KILE 3.4.5.3 lists them
	// for a PAC).
	SIDs []string
	// SessionKey is the UserSessionKey, for NTLMv2 the SessionBaseKey
	// (MS-NLMP 3.3.2).
	SessionKey [16]byte
}

// NetworkLogon validates l with a DC (MS-APDS 3.1.5.1.1) through
// NetrLogonSamLogonEx over the sealed channel (MS-NRPC 3.5.4.5.1: no
// authenticator, so calls do not depend on each other). A refusal is a
// *StatusError with the DC's NTSTATUS.
func (c *Client) NetworkLogon(ctx context.Context, l NetworkLogon) (*Validation, error) {
	var v *Validation
	err := c.withChannel(ctx, func(ctx context.Context, ch *channel) error {
		var err error
		v, err = ch.networkLogon(ctx, l)
		return err
	})
	return v, err
}

func (ch *channel) networkLogon(ctx context.Context, l NetworkLogon) (*Validation, error) {
	info := &logon.NetworkInfo{
		Identity: &logon.LogonIdentityInfo{
			LogonDomainName: &dtyp.UnicodeString{Buffer: l.Domain},
			// MSV1_0_ALLOW_SERVER_TRUST_ACCOUNT and _WORKSTATION_ are left
			// clear: a computer account cannot log on to the SMB server.
			// 0x20 (MSV1_0_CLEARTEXT_PASSWORD_ALLOWED) does not apply to
			// network logons; none of the other bits are wanted either.
			ParameterControl: 0,
			UserName:         &dtyp.UnicodeString{Buffer: l.User},
			Workstation:      &dtyp.UnicodeString{Buffer: l.Workstation},
		},
		LMChallenge:         &logon.LMChallenge{Data: l.ServerChallenge[:]},
		NTChallengeResponse: &logon.String{Buffer: l.NTResponse},
		LMChallengeResponse: &logon.String{Buffer: l.LMResponse},
	}
	req := &logon.SAMLogonExRequest{
		LogonServer:      `\\` + ch.dc.Name,
		ComputerName:     strings.ToUpper(ch.machine.Computer),
		LogonLevel:       logon.LogonInfoClassNetworkInformation,
		LogonInformation: &logon.Level{Value: &logon.Level_LogonNetwork{LogonNetwork: info}},
		ValidationLevel:  logon.ValidationInfoClassSAMInfo4,
	}
	resp, err := ch.cli.SAMLogonEx(ctx, req)
	if err != nil && resp != nil && uint32(resp.Return) == statusInvalidInfoClass {
		// A DC without level 6: SAM_INFO2 carries the same groups.
		req.ValidationLevel = logon.ValidationInfoClassSAMInfo2
		resp, err = ch.cli.SAMLogonEx(ctx, req)
	}
	if err != nil {
		var ret *int32
		if resp != nil {
			ret = &resp.Return
		}
		return nil, callError("NetrLogonSamLogonEx", ret, err)
	}
	if resp.ValidationInformation == nil {
		return nil, errors.New("netlogon: NetrLogonSamLogonEx: no validation information")
	}
	switch v := resp.ValidationInformation.GetValue().(type) {
	case *logon.ValidationSAMInfo4:
		return validation(v.EffectiveName, v.LogonDomainName, v.LogonDomainID, v.UserID, v.PrimaryGroupID,
			v.GroupIDs, v.ExtraSIDs, nil, nil, v.UserSessionKey)
	case *logon.ValidationSAMInfo2:
		return validation(v.EffectiveName, v.LogonDomainName, v.LogonDomainID, v.UserID, v.PrimaryGroupID,
			v.GroupIDs, v.ExtraSIDs, nil, nil, v.UserSessionKey)
	}
	return nil, fmt.Errorf("netlogon: NetrLogonSamLogonEx: unexpected validation level %d", resp.ValidationLevel)
}

func validation(name, domain *dtyp.UnicodeString, domainSID *dtyp.SID, userID, primary uint32, groups []*logon.GroupMembership,
	extra []*logon.SIDAndAttributes, resDomain *dtyp.SID, resGroups []*logon.GroupMembership, key *logon.UserSessionKey) (*Validation, error) {
	if domainSID == nil {
		return nil, errors.New("netlogon: validation without LogonDomainId")
	}
	v := &Validation{}
	if name != nil {
		v.User = name.Buffer
	}
	if domain != nil {
		v.Domain = domain.Buffer
	}
	dom := domainSID.String()
	add := func(sid string) {
		for _, s := range v.SIDs {
			if strings.EqualFold(s, sid) {
				return
			}
		}
		v.SIDs = append(v.SIDs, sid)
	}
	rid := func(base string, r uint32) string { return base + "-" + strconv.FormatUint(uint64(r), 10) }
	add(rid(dom, userID))
	add(rid(dom, primary))
	for _, g := range groups {
		if g != nil {
			add(rid(dom, g.RelativeID))
		}
	}
	for _, s := range extra {
		if s != nil && s.SID != nil {
			add(s.SID.String())
		}
	}
	if resDomain != nil {
		base := resDomain.String()
		for _, g := range resGroups {
			if g != nil {
				add(rid(base, g.RelativeID))
			}
		}
	}
	// The key arrives as two 8-byte CYPHER_BLOCKs. Over a sealed channel
	// with AES negotiated the whole answer is encrypted by the transport;
	// NetrLogonSamLogonEx returns the key as is.
	if key == nil || len(key.Data) != 2 || key.Data[0] == nil || key.Data[1] == nil ||
		len(key.Data[0].Data) != 8 || len(key.Data[1].Data) != 8 {
		return nil, errors.New("netlogon: validation without a user session key")
	}
	copy(v.SessionKey[:8], key.Data[0].Data)
	copy(v.SessionKey[8:], key.Data[1].Data)
	return v, nil
}
