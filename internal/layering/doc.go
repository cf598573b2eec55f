// Package layering holds only a test: it checks, like Go's own
// deps_test.go, that every package of the module imports what its doc.go
// says it may, so that the layering the README describes stays true. Each
// rule quotes the sentence of the doc.go it enforces; the test fails when
// a package has no doc.go, when a quoted sentence is no longer there, and
// when an import breaks a rule (directly or through other packages of
// the module).
//
// Nothing imports it.
package layering
