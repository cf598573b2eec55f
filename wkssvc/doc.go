// Package wkssvc is the Workstation Service Remote Protocol (MS-WKST)
// interface adapter: it implements go-msrpc's generated wkssvc server
// interface and registers it with the server/dcerpc runtime.
//
// It owns the workstation methods — NetrWkstaGetInfo/SetInfo (the
// settings kept in a versioned 0600 file), NetrWkstaUserEnum,
// NetrWkstaTransportEnum/Add/Del, the Use methods,
// NetrWorkstationStatisticsGet, NetrGetJoinInformation — with their
// access rules and the product behaviour of MS-WKST section 7, and the
// answers of the methods this server does not offer (the retired opnums
// 14–19 and 21 decode the parameters Windows' stubs still take, then
// answer ERROR_NOT_SUPPORTED); what they report of
// the host comes from small sources (UserSource, TransportSource,
// StatisticsSource; package hostinfo reads this host). The membership
// methods (join, unjoin, rename, the alternate names, name validation)
// go to a Joiner: go-msrpc's wire types are turned into joinlogic's
// transport-neutral requests once, here, and the Joiner answers with an
// MS-ERREF code. It must not parse PDUs, touch the SMB layer or keep
// membership state itself; the computer's names are read, on every call,
// from an ipc.ComputerNames.
package wkssvc
