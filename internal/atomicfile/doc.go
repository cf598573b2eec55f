// Package atomicfile replaces files so that a crash at any moment leaves
// either the old or the new content, never a torn file: the data goes to
// a temporary file in the same directory, which is synced, renamed over
// the target, and the directory is synced. It is for the files that hold
// secrets (membership state, intent journal, keytab, credentials), so the
// temporary file is created with the final mode before any data is
// written. It does no other I/O and keeps no state.
package atomicfile
