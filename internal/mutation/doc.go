// Package mutation is the list of planted bugs (mutants) of the mutation
// campaign in the security-relevant code: signature, encryption and access
// checks, MAC checks, length bounds and limits, rollback. Each mutant names
// the exact text it changes, what the change breaks, and the tests that
// must notice it; cmd/mutants applies them one at a time to a copy of the
// tree, runs those tests and writes docs/mutation.md (scripts/mutants).
//
// It is a test tool: the product never imports it, and it never changes
// the working tree it is run from.
package mutation
