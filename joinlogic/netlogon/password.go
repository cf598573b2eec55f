package netlogon

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/oiweiwei/go-msrpc/msrpc/nrpc/logon/v1"
)

// TestResult describes a successful secure channel check.
type TestResult struct {
	DC       DC
	Flags    uint32 // negotiated
	Previous bool   // the previous password was the one that worked
}

// Test builds a new secure channel with the stored secret (MS-NRPC
// 3.1.4.1), as `net rpc testjoin` does, and keeps it for later calls.
func (c *Client) Test(ctx context.Context) error {
	_, err := c.TestDetails(ctx)
	return err
}

// TestDetails is Test that also says which DC answered and how.
func (c *Client) TestDetails(ctx context.Context) (TestResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked()
	m, ok := c.cfg.Machine()
	if !ok {
		return TestResult{}, ErrNotJoined
	}
	ch, err := c.build(ctx, m)
	if err != nil {
		return TestResult{}, err
	}
	c.ch = ch
	return TestResult{DC: ch.dc, Flags: ch.flags, Previous: ch.password != m.Password}, nil
}

// maxTrustPassword is the size of NL_TRUST_PASSWORD.Buffer in bytes
// (MS-NRPC 2.2.1.3.7: 512 WCHARs).
const maxTrustPassword = 512

// ChangePassword sets the machine account's password on the DC to
// password with NetrServerPasswordSet2 (MS-NRPC 3.4.5.2.5), over a channel
// built with the current password. The caller records the new password
// (and keeps the old one as previous) before calling, so that a crash
// between the DC's change and the local save still leaves a password that
// works; the channel is dropped afterwards, the next call building one
// with the new password.
func (c *Client) ChangePassword(ctx context.Context, password string) error {
	return c.ChangePasswordAt(ctx, DC{}, password)
}

// ErrNotSent marks a password change that failed before the request was
// sent: the DC's password is unchanged.
var ErrNotSent = errors.New("netlogon: the password change was not sent")

// ChangePasswordAt is ChangePassword at a given DC (the zero DC: one the
// locator finds). An error wrapping ErrNotSent means the DC still has the
// old password; any other error leaves it unknown.
func (c *Client) ChangePasswordAt(ctx context.Context, dc DC, password string) error {
	pw := utf16.Encode([]rune(password))
	if len(pw) == 0 || 2*len(pw) > maxTrustPassword {
		return fmt.Errorf("%w: a machine password must be 1 to %d UTF-16 bytes", ErrNotSent, maxTrustPassword)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.cfg.Machine()
	if !ok {
		return fmt.Errorf("%w: %w", ErrNotSent, ErrNotJoined)
	}
	// A channel of its own, built now with the password the DC holds.
	c.dropLocked()
	var ch *channel
	var err error
	if dc.Name == "" && dc.Address == "" {
		ch, err = c.build(ctx, m)
	} else {
		ch, err = c.buildAt(ctx, m, dc)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ch.conn.Close(cctx)
		cancel()
		ch.stop()
	}()
	tctx, cancelT := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancelT()
	cctx, cancel := stepContext(ch.sctx, tctx)
	defer cancel()
	// NL_TRUST_PASSWORD: random filler, the password in the last bytes of
	// the buffer, its byte length; all encrypted with the session key
	// (AES-CFB8, MS-NRPC 3.4.5.2.5, 3.1.4.4.1).
	buf := make([]byte, maxTrustPassword+4)
	if _, err := rand.Read(buf[:maxTrustPassword]); err != nil {
		return err
	}
	off := maxTrustPassword - 2*len(pw)
	for i, u := range pw {
		binary.LittleEndian.PutUint16(buf[off+2*i:], u)
	}
	binary.LittleEndian.PutUint32(buf[maxTrustPassword:], uint32(2*len(pw)))
	enc, err := ch.cred.Encrypt(cctx, buf)
	clear(buf)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	tp := &logon.TrustPassword{Buffer: make([]uint16, maxTrustPassword/2), Length: binary.LittleEndian.Uint32(enc[maxTrustPassword:])}
	for i := range tp.Buffer {
		tp.Buffer[i] = binary.LittleEndian.Uint16(enc[2*i:])
	}
	// The Netlogon authenticator (MS-NRPC 3.1.4.5).
	ts := uint32(time.Now().Unix())
	credNext, err := ch.cred.Next(cctx, ts)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotSent, err)
	}
	resp, err := ch.cli.PasswordSet2(cctx, &logon.PasswordSet2Request{
		PrimaryName:       `\\` + ch.dc.Name,
		AccountName:       m.Account,
		SecureChannelType: logon.SecureChannelTypeWorkstationSecureChannel,
		ComputerName:      strings.ToUpper(m.Computer),
		Authenticator:     &logon.Authenticator{Credential: &logon.Credential{Data: credNext}, Timestamp: ts},
		ClearNewPassword:  tp,
	})
	if err != nil {
		var ret *int32
		if resp != nil {
			ret = &resp.Return
		}
		return callError("NetrServerPasswordSet2", ret, err)
	}
	if resp.ReturnAuthenticator == nil || resp.ReturnAuthenticator.Credential == nil {
		return errors.New("netlogon: NetrServerPasswordSet2: no return authenticator")
	}
	if err := ch.cred.Verify(cctx, 1, resp.ReturnAuthenticator.Credential.Data); err != nil {
		// The DC applied the change but its answer does not verify: the
		// caller cannot tell the DC is genuine, yet the password changed.
		return fmt.Errorf("netlogon: NetrServerPasswordSet2: the DC's return authenticator does not verify: %w", err)
	}
	c.log.Info("netlogon: machine password changed", "dc", ch.dc.Name, "account", m.Account)
	return nil
}
