// Package keytab writes the Kerberos keytab of a computer account: the
// keys of NAME$, host/ and RestrictedKrbHost/ for the account's realm,
// derived from the machine password with the salt Active Directory uses
// for computer accounts (MS-KILE 3.1.1.2).
//
// FileStore implements joinlogic.KeytabStore on one file: the join state
// machine installs and removes the keytab through it and can put the
// previous file back, byte for byte, when a later step fails.
//
// It owns only the keytab file it is asked to write (replaced atomically,
// mode 0600); it never logs or returns keys or passwords.
package keytab
