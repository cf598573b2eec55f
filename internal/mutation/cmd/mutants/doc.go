// Command mutants runs the mutation campaign: for every mutant of package
// mutation it copies the module tree (tracked and untracked files, as they
// are on disk) once, applies the mutant, runs the tests that must kill it
// (unit tests, and end-to-end tests for the mutants only real peers see),
// restores the file, and writes a report with killed/survived per mutant
// and the kill rate. scripts/mutants runs it as root with the suite's
// environment.
//
//	mutants [-only REGEXP] [-out docs/mutation.md] [-list]
package main
