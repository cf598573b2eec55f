package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := env{
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		getenv: os.Getenv,
		dial:   dialWkssvc,
	}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		e.prompt = terminalPrompt(os.Stdin, os.Stderr)
	}
	code := run(ctx, os.Args[1:], e)
	stop()
	os.Exit(code)
}
