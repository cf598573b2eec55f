package smb2

import (
	"slices"

	"github.com/wkssvcd/wkssvcd/server/smb2/smbcrypto"
)

// handleIoctl is MS-SMB2 3.3.5.15.
func (c *conn) handleIoctl(req *request) (result, error) {
	r, err := decodeIoctl(req.msg)
	if err != nil {
		return errResult(statusInvalidParameter), nil
	}
	if r.Flags != ioctlIsFSCTL {
		return errResult(statusNotSupported), nil
	}
	if uint32(len(r.Input)) > c.cfg.MaxTransactSize || r.MaxInputResponse > c.cfg.MaxTransactSize || r.MaxOutputResponse > c.cfg.MaxTransactSize ||
		!c.chargeCovers(&req.hdr, max(uint32(len(r.Input)), r.MaxOutputResponse)) {
		return errResult(statusInvalidParameter), nil
	}
	switch r.CtlCode {
	case fsctlValidateNegotiateInfo:
		return c.validateNegotiateInfo(req, r)
	case fsctlPipeWait:
		return c.pipeWait(req, r)
	case fsctlPipeTransceive:
		return c.pipeTransceive(req, r)
	case fsctlDFSGetReferrals, fsctlDFSGetReferralsEx:
		return errResult(statusFSDriverRequired), nil
	case fsctlQueryNetworkInterfaceInfo, fsctlPipePeek:
		return errResult(statusNotSupported), nil
	}
	return errResult(statusInvalidDeviceRequest), nil
}

// validateNegotiateInfo is MS-SMB2 3.3.5.15.12; a mismatch disconnects and
// the response is always signed.
func (c *conn) validateNegotiateInfo(req *request, r *ioctlRequest) (result, error) {
	if !r.FileID.isAllOnes() {
		return errResult(statusInvalidParameter), nil
	}
	if c.dialect == smbcrypto.Dialect311 {
		return result{}, errDisconnect
	}
	v, err := decodeValidateNegotiateInfo(r.Input)
	if err != nil {
		return result{}, errDisconnect
	}
	if r.MaxOutputResponse < 24 {
		return errResult(statusInvalidParameter), nil
	}
	if v.Capabilities != c.clientCaps || v.GUID != c.clientGUID || v.SecurityMode != c.clientSecMode ||
		!slices.Equal(v.Dialects, c.clientDialects) {
		return result{}, errDisconnect
	}
	var dialect uint16
	for _, d := range v.Dialects {
		if knownDialect(d) && d >= c.cfg.MinDialect && d <= c.cfg.MaxDialect && d > dialect {
			dialect = d
		}
	}
	if dialect != c.dialect {
		return result{}, errDisconnect
	}
	out := make([]byte, 24)
	le.PutUint32(out, c.serverCaps)
	copy(out[4:20], c.cfg.ServerGUID[:])
	le.PutUint16(out[20:], c.serverSecMode)
	le.PutUint16(out[22:], c.dialect)
	return result{body: encodeIoctlResponse(r.CtlCode, r.FileID, out), forceSig: true}, nil
}

// pipeWait is FSCTL_PIPE_WAIT (MS-FSCC 2.3.49): success for a served pipe.
func (c *conn) pipeWait(req *request, r *ioctlRequest) (result, error) {
	in := r.Input
	if len(in) < 14 {
		return errResult(statusInvalidParameter), nil
	}
	n := le.Uint32(in[8:])
	if uint64(n) > uint64(len(in)-14) {
		return errResult(statusInvalidParameter), nil
	}
	name, err := decodeUTF16(in[14 : 14+n])
	if err != nil {
		return errResult(statusInvalidParameter), nil
	}
	if !c.cfg.Pipes.HasPipe(canonicalPipe(name)) {
		return errResult(statusObjectNameNotFound), nil
	}
	return result{body: encodeIoctlResponse(r.CtlCode, r.FileID, nil)}, nil
}

// pipeTransceive is MS-SMB2 3.3.5.15.3: write the input, return one
// message of at most MaxOutputResponse bytes.
func (c *conn) pipeTransceive(req *request, r *ioctlRequest) (result, error) {
	o, st := c.lookupOpen(req, r.FileID)
	if o == nil {
		return errResult(st), nil
	}
	if len(r.Input) > 0 {
		if err := o.pipe.Write(o.ctx, r.Input); err != nil {
			return result{status: pipeError(err), body: errorBody(), fileID: &o.id}, nil
		}
	}
	id := o.id
	return c.startRead(req, o, r.MaxOutputResponse, func(data []byte) []byte {
		return encodeIoctlResponse(fsctlPipeTransceive, id, data)
	})
}

// handleQueryInfo is MS-SMB2 3.3.5.20: FileStandardInformation only.
func (c *conn) handleQueryInfo(req *request) (result, error) {
	r, err := decodeQueryInfo(req.msg)
	if err != nil {
		return errResult(statusInvalidParameter), nil
	}
	o, st := c.lookupOpen(req, r.FileID)
	if o == nil {
		return errResult(st), nil
	}
	if r.InfoType != infoFile || r.FileInfoClass != fileStandardInformation {
		return result{status: statusNotSupported, body: errorBody(), fileID: &o.id}, nil
	}
	if r.OutputBufferLength < 24 {
		return result{status: statusBufferTooSmall, body: errorBody(), fileID: &o.id}, nil
	}
	// MS-FSCC 2.4.47 FILE_STANDARD_INFORMATION as a pipe reports it.
	out := make([]byte, 24)
	le.PutUint64(out, 4096)   // AllocationSize
	le.PutUint32(out[16:], 1) // NumberOfLinks
	out[20] = 1               // DeletePending
	return result{body: encodeQueryInfoResponse(out), fileID: &o.id}, nil
}
