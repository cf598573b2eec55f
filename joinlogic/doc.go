// Package joinlogic owns the domain-join state machine of the Workstation
// Service Remote Protocol and the persisted domain membership it changes.
//
// It applies the message processing of NetrJoinDomain2/3, NetrUnjoinDomain2/3,
// NetrValidateName2/3 and NetrGetJoinInformation (MS-WKST 3.2.4.12–3.2.4.16,
// 3.2.4.22–3.2.4.25) in the specification's order and answers with the
// MS-ERREF codes those sections name. The domain side of a join is reached
// only through the small Directory interfaces declared here; the membership
// (MS-WKST 3.2.1.6) lives in a versioned 0600 file written atomically,
// and the machine account's keytab is kept in step with it through the
// KeytabStore interface: a join installs it before the membership is saved
// and puts the previous one back on failure; unjoins remove it.
//
// The directory side of a join or unjoin is one atomic directory write.
// Before it, an Intent is journaled next to the membership file, and it is
// deleted once the local state agrees; Joiner.Recover (at start-up, and
// before every join or unjoin) settles an intent a crash left, by binding
// as the machine account to learn whether the write happened and rolling
// forward if it did.
//
// Offline domain joins share the online join's phases (phases.go):
// Provisioner creates or resets another machine's account as a join
// would (djoin /provision) and returns what its provisioning file needs;
// Joiner.ApplyOfflineJoin commits a provisioning file's join locally
// (djoin /requestodj), journaled and recovered like any join. The file
// format is package odj's business, not this one's.
//
// The computer's names (ComputerName, MS-WKST 3.2.1.2) are state too: a
// NameStore keeps them (a versioned 0600 file once a rename changed
// them), and the network front reads them from it. Renames
// (NetrRenameMachineInDomain2/3) and the alternate-name methods
// (MS-WKST 3.2.4.18–3.2.4.21, 3.2.4.26–3.2.4.28) change them, and on a
// domain member the computer object through the NameWriter a Session may
// implement, journaled and recovered as joins are.
//
// It must not touch SMB, NDR or RPC wire types, nor decrypt JOINPR password
// blobs itself: callers hand it transport-neutral requests and a
// PasswordSource that decrypts at the step where the specification does.
// Of go-msrpc it uses only the MS-ERREF tables, which name its codes
// (Code is the one table of results the server, the wkst client and the
// tests share).
package joinlogic
