package smbprobe

import "github.com/wkssvcd/wkssvcd/internal/smbraw"

// The probes speak through the raw client of internal/smbraw; these names
// keep the probes' vocabulary.
type (
	// Client is one raw SMB2 connection.
	Client = smbraw.Client
	// Header is the SMB2 header of a received message.
	Header = smbraw.Header
	// FileID is an SMB2 FileId.
	FileID = smbraw.FileID
)

// SMB2 commands, flags and status values.
const (
	CmdNegotiate    = smbraw.CmdNegotiate
	CmdSessionSetup = smbraw.CmdSessionSetup
	CmdLogoff       = smbraw.CmdLogoff
	CmdTreeConnect  = smbraw.CmdTreeConnect
	CmdCreate       = smbraw.CmdCreate
	CmdClose        = smbraw.CmdClose
	CmdRead         = smbraw.CmdRead
	CmdWrite        = smbraw.CmdWrite
	CmdCancel       = smbraw.CmdCancel
	CmdEcho         = smbraw.CmdEcho

	FlagServerToRedir = smbraw.FlagServerToRedir
	FlagAsync         = smbraw.FlagAsync
	FlagSigned        = smbraw.FlagSigned

	StatusSuccess                = smbraw.StatusSuccess
	StatusPending                = smbraw.StatusPending
	StatusMoreProcessingRequired = smbraw.StatusMoreProcessingRequired
	StatusAccessDenied           = smbraw.StatusAccessDenied
	StatusCancelled              = smbraw.StatusCancelled
	StatusInsufficientResources  = smbraw.StatusInsufficientResources
	StatusInvalidParameter       = smbraw.StatusInvalidParameter
	StatusLogonFailure           = smbraw.StatusLogonFailure
	StatusUserSessionDeleted     = smbraw.StatusUserSessionDeleted
	StatusBufferOverflow         = smbraw.StatusBufferOverflow
)

// Functions of the raw client the probes use.
var (
	Dial                      = smbraw.Dial
	ParseHeader               = smbraw.ParseHeader
	SessionSetupBody          = smbraw.SessionSetupBody
	NTLMNegotiate             = smbraw.NTLMNegotiate
	NTLMAnonymousAuthenticate = smbraw.NTLMAnonymousAuthenticate
	WriteBody                 = smbraw.WriteBody
	ReadBody                  = smbraw.ReadBody
)
