// Package wkssvc is the Workstation Service Remote Protocol (MS-WKST)
// interface adapter: it implements go-msrpc's generated wkssvc server
// interface and registers it with the server/dcerpc runtime.
//
// It owns the query methods (NetrWkstaGetInfo, NetrGetJoinInformation),
// their access rules and the answers of the methods this server does not
// offer. The domain join, unjoin, rename and validation methods are
// delegated to a JoinHandler. It must not parse PDUs, touch the SMB layer
// or keep membership state itself: membership comes from a
// MembershipSource.
package wkssvc
