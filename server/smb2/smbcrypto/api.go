package smbcrypto

// Dialect revisions (MS-SMB2 2.2.3).
const (
	Dialect202 uint16 = 0x0202
	Dialect210 uint16 = 0x0210
	Dialect300 uint16 = 0x0300
	Dialect302 uint16 = 0x0302
	Dialect311 uint16 = 0x0311
)

// Cipher identifiers (MS-SMB2 2.2.3.1.2).
const (
	AES128CCM uint16 = 0x0001
	AES128GCM uint16 = 0x0002
	AES256CCM uint16 = 0x0003
	AES256GCM uint16 = 0x0004
)

// Signing algorithm identifiers (MS-SMB2 2.2.3.1.7).
const (
	SigningHMACSHA256 uint16 = 0x0000
	SigningAESCMAC    uint16 = 0x0001
	SigningAESGMAC    uint16 = 0x0002
)

// SessionKeys are the per-session keys of MS-SMB2 3.3.5.5.3.
type SessionKeys struct {
	Signing     []byte // Session.SigningKey (2.x: Session.SessionKey)
	Application []byte // Session.ApplicationKey (2.x: Session.SessionKey)
	Encryption  []byte // server to client (Session.EncryptionKey); nil below 3.0
	Decryption  []byte // client to server (Session.DecryptionKey); nil below 3.0
}
