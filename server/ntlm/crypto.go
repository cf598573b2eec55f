package ntlm

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"encoding/binary"
	"strings"
)

// hmacMD5 is HMAC_MD5(key, concatenation of parts) (MS-NLMP 6).
func hmacMD5(key []byte, parts ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// ntowfv2 is NTOWFv2 (MS-NLMP 3.3.2): HMAC_MD5(MD4(UNICODE(Passwd)),
// UNICODE(ConcatenationOf(Uppercase(User), UserDom))). The domain is used
// exactly as given.
func ntowfv2(ntHash [16]byte, user, domain string) []byte {
	return hmacMD5(ntHash[:], utf16le(strings.ToUpper(user)+domain))
}

// ntProofStr is HMAC_MD5(ResponseKeyNT, ConcatenationOf(ServerChallenge,
// temp)) where temp is the NTLMv2_CLIENT_CHALLENGE as sent (MS-NLMP 3.3.2).
func ntProofStr(responseKeyNT, serverChallenge, temp []byte) []byte {
	return hmacMD5(responseKeyNT, serverChallenge, temp)
}

// rc4K is RC4K(key, data) (MS-NLMP 6): a fresh RC4 keystream over data.
func rc4K(key, data []byte) []byte {
	c, err := rc4.NewCipher(key)
	if err != nil {
		// Only reachable with an empty or over-long key, which callers
		// never pass (all keys here are 16 bytes).
		return nil
	}
	out := make([]byte, len(data))
	c.XORKeyStream(out, data)
	return out
}

var (
	magicSignC2S = []byte("session key to client-to-server signing key magic constant\x00")
	magicSignS2C = []byte("session key to server-to-client signing key magic constant\x00")
	magicSealC2S = []byte("session key to client-to-server sealing key magic constant\x00")
	magicSealS2C = []byte("session key to server-to-client sealing key magic constant\x00")
)

// signKey is SIGNKEY (MS-NLMP 3.4.5.2) with extended session security.
func signKey(exportedSessionKey []byte, client bool) []byte {
	magic := magicSignS2C
	if client {
		magic = magicSignC2S
	}
	sum := md5.Sum(append(append([]byte{}, exportedSessionKey...), magic...))
	return sum[:]
}

// sealKey is SEALKEY (MS-NLMP 3.4.5.3) with extended session security:
// the key is cut to 128, 56 or 40 bits per the negotiated flags first.
func sealKey(flags uint32, exportedSessionKey []byte, client bool) []byte {
	k := exportedSessionKey
	switch {
	case flags&flag128 != 0:
	case flags&flag56 != 0:
		k = k[:7]
	default:
		k = k[:5]
	}
	magic := magicSealS2C
	if client {
		magic = magicSealC2S
	}
	sum := md5.Sum(append(append([]byte{}, k...), magic...))
	return sum[:]
}

// signatureESS builds the NTLMSSP_MESSAGE_SIGNATURE of MS-NLMP 3.4.4.2
// (extended session security): Version 1, the first 8 bytes of
// HMAC_MD5(SigningKey, SeqNum ‖ msg), RC4-encrypted with the sealing
// handle when KEY_EXCH is negotiated (seal may then not be nil), SeqNum.
func signatureESS(signingKey []byte, seal *rc4.Cipher, seqNum uint32, msg []byte) []byte {
	var seq [4]byte
	binary.LittleEndian.PutUint32(seq[:], seqNum)
	sig := make([]byte, 16)
	binary.LittleEndian.PutUint32(sig[0:4], 1)
	copy(sig[4:12], hmacMD5(signingKey, seq[:], msg)[:8])
	if seal != nil {
		seal.XORKeyStream(sig[4:12], sig[4:12])
	}
	copy(sig[12:16], seq[:])
	return sig
}

// sessionKeys are the per-direction keys derived from the
// ExportedSessionKey (MS-NLMP 3.4.5.2, 3.4.5.3).
type sessionKeys struct {
	clientSign, serverSign, clientSeal, serverSeal []byte
	keyExch                                        bool
}

func deriveKeys(flags uint32, exportedSessionKey []byte) sessionKeys {
	return sessionKeys{
		clientSign: signKey(exportedSessionKey, true),
		serverSign: signKey(exportedSessionKey, false),
		clientSeal: sealKey(flags, exportedSessionKey, true),
		serverSeal: sealKey(flags, exportedSessionKey, false),
		keyExch:    flags&flagKeyExch != 0,
	}
}

// getMIC is GSS_GetMIC (MS-NLMP 3.4.4.2) with a fresh sealing handle, as
// SPNEGO's mechListMIC uses it (MS-SPNG 3.1.5.1): client selects the
// client-to-server keys.
func (k sessionKeys) getMIC(client bool, seq uint32, msg []byte) []byte {
	sign, seal := k.serverSign, k.serverSeal
	if client {
		sign, seal = k.clientSign, k.clientSeal
	}
	var h *rc4.Cipher
	if k.keyExch {
		c, err := rc4.NewCipher(seal)
		if err != nil {
			return nil
		}
		h = c
	}
	return signatureESS(sign, h, seq, msg)
}
