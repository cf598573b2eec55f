// Package odj encodes and decodes offline domain join provisioning data,
// the files `djoin /provision` writes and `djoin /requestodj` reads, in the
// layout of Microsoft's ODJ IDL (NetMgmt "Offline domain join IDL
// definitions"), which Samba's `net offlinejoin` reads and writes too:
//
//   - the savefile text layer: UTF-16LE with a byte-order mark, the base64
//     text of the binary form, one UTF-16 NUL (read leniently, written
//     exactly; see DecodeSavefile);
//   - the binary form: an NDR type serialization version 1 pickle
//     (MS-RPCE 2.2.6) of PODJ_PROVISION_DATA, whose blobs nest further
//     pickles: ODJ_WIN7BLOB, OP_PACKAGE, OP_PACKAGE_PART_COLLECTION and the
//     parts JOIN_PROVIDER, JOIN_PROVIDER2/3/4, POLICY_PROVIDER and
//     CERT_PROVIDER; parts of unknown types are kept as they came;
//   - the payloads of the DirectAccess parts: registry policy files
//     (MS-GPREG 2.2.1, "PReg") and serialized certificate stores (SST,
//     MS-OSHARED 2.3.9.1);
//   - the shape of the file djoin writes (BuildProvision): which blobs and
//     parts, in which order, with which flags and Options, settled against
//     a file Windows Server 2019 wrote (the same bytes but for the
//     referent IDs).
//
// The package is pure: no I/O, no logging, no global state. Decoding never
// panics and allocates no more than the input's size, whatever the input.
// Encoding goes through go-msrpc's NDR writer and its type serialization
// helpers; decoding uses a bounded reader of its own (go-msrpc's reader
// treats repeated referent IDs as full-pointer aliases, which the unique
// pointers of these types are not, and sizes its allocations from the
// wire).
//
// It knows nothing of domains, directories or local state: what a
// provisioning file means to a machine (joinlogic) and where the files
// come from (cmd) belong elsewhere. Passwords are kept as UTF-16 code
// units (Password) and never printed.
package odj
