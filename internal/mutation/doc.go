// Package mutation is the list of planted bugs (mutants) of the mutation
// campaign in the security-relevant code: signature, encryption and access
// checks, MAC checks, length bounds and limits, rollback. Each mutant names
// the exact text it changes, what the change breaks, and the tests that
// must notice it; cmd/mutants applies them one at a time to a copy of the
// tree, runs those tests and writes docs/mutation.md (scripts/mutants).
//
// Why a hand-written list: the module proxy serves one maintained Go
// mutation tool, go-gremlins, but it only flips operators (< to <=, + to -,
// ! removed) wherever coverage reaches. The bugs that matter here are
// mostly of another shape, a check skipped for one command, a response
// sent without its wrapping, a rollback step dropped, which it cannot
// express; and its per-package runs cannot reach the end-to-end tests that
// catch some of them. Operator flips at limit boundaries are in the list.
//
// It is a test tool: the product never imports it, and it never changes
// the working tree it is run from.
package mutation
