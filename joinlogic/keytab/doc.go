// Package keytab writes the Kerberos keytab of a computer account: the
// keys of NAME$, host/ and RestrictedKrbHost/ for the account's realm,
// derived from the machine password with the salt Active Directory uses
// for computer accounts (MS-KILE 3.1.1.2).
//
// It owns only the keytab file it is asked to write (replaced atomically,
// mode 0600); it never logs or returns keys or passwords.
package keytab
