// Package keytab writes the Kerberos keytab of a computer account: the
// keys of NAME$, host/ and RestrictedKrbHost/ for the account's realm,
// derived from the machine password with the salt Active Directory uses
// for computer accounts (MS-KILE 3.1.1.2).
//
// FileStore implements joinlogic.KeytabStore on one file, which may be
// the host's /etc/krb5.keytab shared with other services: the account's
// keys are merged into it (other principals' keys and the account's
// previous key version stay) and taken out of it on unjoin, and the state
// machine can put the previous file back, byte for byte, when a later
// step fails. A file it cannot read as a keytab is never replaced.
//
// It owns only the keytab file it is asked to write (replaced atomically,
// mode 0600 or the file's own mode without permissions for others); it
// never logs or returns keys or passwords.
package keytab
