// Command graphsoar is an event-driven response worker for Microsoft Defender
// XDR incidents, and the tools to write, test and run its rules.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// stdio are the streams a command reads and writes.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// run executes one graphsoar command line. getenv supplies GRAPHSOAR_*
// variables (flags win over them).
func run(ctx context.Context, args []string, getenv func(string) string, s stdio) error {
	root := newRoot(getenv, s)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// exitError ends the process with a code; its message, if any, was not yet
// printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode prints err (once) and returns the process exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "graphsoar:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "graphsoar:", err)
	return 1
}
