package wkssvc

import (
	"context"
	"fmt"

	"github.com/oiweiwei/go-msrpc/ndr"
)

// The retired methods. MS-WKST <27> says that opnums 16–19 and 21 "just
// return ERROR_NOT_SUPPORTED", and Windows answers opnums 14 and 15 the
// same way to a remote caller. The IDL of MS-WKST (and go-msrpc's
// stubs, generated from it) declares them without parameters, but
// Windows' stubs still decode the parameters of the methods they were —
// NetrLogonDomainNameAdd/Del, NetrJoinDomain, NetrUnjoinDomain,
// NetrRenameMachineInDomain, NetrValidateName and NetrGetJoinableOus —
// and clients written against Windows (Samba's IDL and smbtorture's
// rpc.wkssvc) send and expect them. So does this server: the request is
// decoded as Windows decodes it (a request that does not decode is a
// fault, as for every other opnum), nothing in it is acted on, and the
// answer is ERROR_NOT_SUPPORTED for every caller.
//
// Opnums 3, 4 and 12 (NetrWkstaUserGetInfo/SetInfo, NetrMessageBufferSend)
// are "only used locally by Windows, never remotely" (<27>) and stay
// nca_op_rng_error.

// retiredParam is how one [in] parameter of a retired method is encoded.
type retiredParam int

const (
	uniqueString retiredParam = iota // [in, string, unique] wchar_t*
	refString                        // [in, string, ref] wchar_t*
	flags32                          // [in] unsigned long
	enum16                           // [in] enum: 16 bits in NDR, 32 in NDR64
	refCount                         // [in, out, ref] unsigned long*
)

// retiredMethod is one retired opnum and its parameters.
type retiredMethod struct {
	name   string
	params []retiredParam
}

// retiredMethods are the opnums answered ERROR_NOT_SUPPORTED after their
// request is decoded.
var retiredMethods = map[int]retiredMethod{
	14: {"NetrLogonDomainNameAdd", []retiredParam{refString}},
	15: {"NetrLogonDomainNameDel", []retiredParam{refString}},
	// ServerName, DomainName, AccountOU, AccountName, Password (clear
	// text, hence its retirement), Options.
	16: {"NetrJoinDomain", []retiredParam{uniqueString, refString, uniqueString, uniqueString, uniqueString, flags32}},
	// ServerName, AccountName, Password, Options.
	17: {"NetrUnjoinDomain", []retiredParam{uniqueString, uniqueString, uniqueString, flags32}},
	// ServerName, MachineName, AccountName, Password, Options.
	18: {"NetrRenameMachineInDomain", []retiredParam{uniqueString, uniqueString, uniqueString, uniqueString, flags32}},
	// ServerName, NameToValidate, AccountName, Password, NameType.
	19: {"NetrValidateName", []retiredParam{uniqueString, refString, uniqueString, uniqueString, enum16}},
	// ServerName, DomainName, AccountName, Password, OUCount; [out] OUs.
	21: {"NetrGetJoinableOus", []retiredParam{uniqueString, refString, uniqueString, uniqueString, refCount}},
}

// RetiredOperation is a call of a retired opnum: the server decodes its
// request into it and answers Return; a client (the tests) fills Args
// and Count to send one.
type RetiredOperation struct {
	Num int
	// Args are the string parameters in order, nil for NULL.
	Args []*string
	// Flags is the final unsigned long or enum parameter.
	Flags uint32
	// Count is OUCount of NetrGetJoinableOus, [in, out]: echoed.
	Count uint32
	// Return is the method's return value.
	Return uint32
}

// NewRetiredOperation returns the operation of opnum, or nil when opnum
// is not a retired method.
func NewRetiredOperation(opnum int) *RetiredOperation {
	if _, ok := retiredMethods[opnum]; !ok {
		return nil
	}
	return &RetiredOperation{Num: opnum}
}

func (o *RetiredOperation) method() retiredMethod { return retiredMethods[o.Num] }

// OpNum is the operation number.
func (o *RetiredOperation) OpNum() int { return o.Num }

// OpName is the method's former name.
func (o *RetiredOperation) OpName() string { return "/wkssvc/v1/" + o.method().name }

// UnmarshalNDRRequest decodes the request as Windows' stub does.
func (o *RetiredOperation) UnmarshalNDRRequest(ctx context.Context, r ndr.Reader) error {
	o.Args = o.Args[:0]
	for _, p := range o.method().params {
		switch p {
		case uniqueString:
			var s string
			present := false
			read := ndr.UnmarshalNDRFunc(func(ctx context.Context, r ndr.Reader) error {
				present = true
				return ndr.ReadUTF16NString(ctx, r, &s)
			})
			if err := r.ReadPointer(&s, func(v any) { s = *v.(*string) }, read); err != nil {
				return err
			}
			if err := r.ReadDeferred(); err != nil {
				return err
			}
			if present {
				o.Args = append(o.Args, &s)
			} else {
				o.Args = append(o.Args, nil)
			}
		case refString:
			var s string
			if err := ndr.ReadUTF16NString(ctx, r, &s); err != nil {
				return err
			}
			o.Args = append(o.Args, &s)
		case flags32:
			if err := r.ReadData(&o.Flags); err != nil {
				return err
			}
		case enum16:
			var v uint16
			if err := r.ReadEnum(&v); err != nil {
				return err
			}
			o.Flags = uint32(v)
		case refCount:
			if err := r.ReadData(&o.Count); err != nil {
				return err
			}
		}
	}
	return nil
}

// MarshalNDRResponse encodes the answer: for NetrGetJoinableOus OUCount
// as it came and a NULL OUs, then the return value.
func (o *RetiredOperation) MarshalNDRResponse(ctx context.Context, w ndr.Writer) error {
	if o.Num == 21 {
		if err := w.WriteData(o.Count); err != nil {
			return err
		}
		if err := w.WritePointer(nil); err != nil {
			return err
		}
		if err := w.WriteDeferred(); err != nil {
			return err
		}
	}
	return w.WriteData(o.Return)
}

// MarshalNDRRequest encodes a request (the client side, for tests).
func (o *RetiredOperation) MarshalNDRRequest(ctx context.Context, w ndr.Writer) error {
	args := o.Args
	next := func() (*string, error) {
		if len(args) == 0 {
			return nil, fmt.Errorf("wkssvc: %s: too few string arguments", o.method().name)
		}
		s := args[0]
		args = args[1:]
		return s, nil
	}
	for _, p := range o.method().params {
		switch p {
		case uniqueString:
			s, err := next()
			if err != nil {
				return err
			}
			if s == nil {
				if err := w.WritePointer(nil); err != nil {
					return err
				}
			} else {
				write := ndr.MarshalNDRFunc(func(ctx context.Context, w ndr.Writer) error {
					return ndr.WriteUTF16NString(ctx, w, *s)
				})
				if err := w.WritePointer(s, write); err != nil {
					return err
				}
			}
			if err := w.WriteDeferred(); err != nil {
				return err
			}
		case refString:
			s, err := next()
			if err != nil {
				return err
			}
			if s == nil {
				return fmt.Errorf("wkssvc: %s: a [ref] string cannot be NULL", o.method().name)
			}
			if err := ndr.WriteUTF16NString(ctx, w, *s); err != nil {
				return err
			}
		case flags32:
			if err := w.WriteData(o.Flags); err != nil {
				return err
			}
		case enum16:
			if err := w.WriteEnum(uint16(o.Flags)); err != nil {
				return err
			}
		case refCount:
			if err := w.WriteData(o.Count); err != nil {
				return err
			}
		}
	}
	return nil
}

// UnmarshalNDRResponse decodes an answer (the client side, for tests).
func (o *RetiredOperation) UnmarshalNDRResponse(ctx context.Context, r ndr.Reader) error {
	if o.Num == 21 {
		if err := r.ReadData(&o.Count); err != nil {
			return err
		}
		// A NULL OUs, or an array the client does not need.
		var ous []string
		read := ndr.UnmarshalNDRFunc(func(ctx context.Context, r ndr.Reader) error {
			return fmt.Errorf("wkssvc: NetrGetJoinableOus answered OUs")
		})
		if err := r.ReadPointer(&ous, func(any) {}, read); err != nil {
			return err
		}
		if err := r.ReadDeferred(); err != nil {
			return err
		}
	}
	return r.ReadData(&o.Return)
}

// retired answers a retired opnum: nil when opnum is not one.
func (s *Server) retired(ctx context.Context, opnum int, r ndr.Reader) (*RetiredOperation, error) {
	op := NewRetiredOperation(opnum)
	if op == nil {
		return nil, nil
	}
	if err := op.UnmarshalNDRRequest(ctx, r); err != nil {
		return nil, err
	}
	c := caller(ctx)
	s.log.Debug("wkssvc: retired method", "op", op.method().name, "user", c.User, "anonymous", c.Anonymous)
	op.Return = errNotSupported
	return op, nil
}
