// Command wkssvcd serves the Workstation Service Remote Protocol (MS-WKST)
// over SMB2/3 named pipes so that remote-management tools can query this
// host and join it to a workgroup or an Active Directory domain.
//
// It owns the assembly and the operator's interface only:
//
//   - commands.go: the subcommands (serve, the default; version; help).
//     A new subcommand is one entry of commands(), naming the option
//     groups it takes.
//   - options.go: the one table of settings. Every option is a flag
//     (--name) and a key of the TOML configuration file (--config) under
//     the same name; the help, --print-config and SIGHUP's reload read the
//     same table. A new flag is one entry there (limits.go adds the
//     resource limits).
//   - settings.go: defaults, then the configuration file, then the command
//     line; --print-config; the help.
//   - accounts.go: local accounts from --admin-file, systemd credentials,
//     the environment or a generated credential.
//   - requestodj.go, odjapply.go: wkssvcd requestodj applies an offline
//     domain join file (package odj) through joinlogic.ApplyOfflineJoin
//     and keeps its DirectAccess parts in STATE-DIR/offline-join.
//   - statelock.go, control.go: one process writes the state directory at
//     a time (a flock); requestodj hands its file to a running daemon over
//     a Unix socket in the state directory instead of writing beside it.
//   - main.go: newDaemon wires the SMB front (server/smb2, server/ntlm),
//     the RPC runtime (server/dcerpc), the interface adapters (wkssvc,
//     server/srvsvc) and the join state machine (joinlogic with its LDAP
//     directory and keytab store). Protocol and join behaviour belong to
//     those packages, not here.
//
// With no flags it listens on 127.0.0.1:1445 with a default state
// directory; see wkssvcd --help.
package main
