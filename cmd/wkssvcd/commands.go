package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/wkssvcd/wkssvcd/internal/buildinfo"
)

// command is one subcommand of wkssvcd. "serve" runs when no command is
// named. A command takes the options of its groups (options.go); the
// configuration file and --print-config work the same for all of them.
type command struct {
	name    string
	summary string // one line for the command list
	about   string // a paragraph for the command's own help, or ""
	// groups are the option groups the command takes.
	groups []string
	// run executes the command with its configuration.
	run func(ctx context.Context, inv *invocation) error
}

// options returns the options of cmd out of all, in table order.
func (c *command) options(all []*option) []*option {
	var out []*option
	for _, o := range all {
		if slices.Contains(c.groups, o.group) {
			out = append(out, o)
		}
	}
	return out
}

const defaultCommand = "serve"

// commands is the table of subcommands, in help order after serve.
func commands() []*command {
	return []*command{
		{
			name:    "serve",
			summary: `serve \PIPE\wkssvc over SMB2/3 until SIGTERM (the default command)`,
			groups:  []string{groupGeneral, groupServer, groupAccounts, groupDirectory, groupMember, groupLogging, groupLimits},
			run:     serve,
		},
		checkDCCommand(),
		requestODJCommand(),
		memberCommands()[0],
		memberCommands()[1],
		{
			name:    "version",
			summary: "print the version and exit (also --version)",
			run: func(_ context.Context, inv *invocation) error {
				_, err := fmt.Fprintln(inv.env.stdout, buildinfo.String("wkssvcd"))
				return err
			},
		},
		{
			name:    "help",
			summary: "show the help of a command (wkssvcd help COMMAND, or COMMAND --help)",
		},
	}
}

// env is what a run takes from the process; tests replace it.
type env struct {
	// stdin is standard input (requestodj --loadfile -); nil when there
	// is none.
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// hup delivers SIGHUP; nil when nothing reloads.
	hup <-chan os.Signal
}

// invocation is one run of a command.
type invocation struct {
	cmd *command
	cfg *config
	// cli is the command line, kept to be applied again over the
	// configuration file when SIGHUP reloads it.
	cli *layer
	// file is the configuration file's layer, nil without --config.
	file *layer
	env  env
}

// run executes one command line and returns the exit status: 0 success,
// 1 a failure while running, 2 a usage or configuration mistake.
func run(ctx context.Context, args []string, e env) int {
	err := runErr(ctx, args, e)
	if err == nil {
		return 0
	}
	fmt.Fprintln(e.stderr, "wkssvcd:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(e.stderr, "wkssvcd: see wkssvcd --help")
		return 2
	}
	return 1
}

func runErr(ctx context.Context, args []string, e env) error {
	cmds := commands()
	find := func(name string) *command {
		for _, c := range cmds {
			if c.name == name {
				return c
			}
		}
		return nil
	}
	cmd := find(defaultCommand)
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd = find(args[0])
		if cmd == nil {
			return usagef("unknown command %q (commands: %s)", args[0], commandNames(cmds))
		}
		args = args[1:]
	}
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") && cmd.name == defaultCommand {
		cmd = find("version")
		args = nil
	}
	if cmd.name == "help" {
		target := find(defaultCommand)
		if len(args) > 0 {
			if target = find(args[0]); target == nil {
				return usagef("help: unknown command %q (commands: %s)", args[0], commandNames(cmds))
			}
		}
		writeHelp(e.stdout, target, cmds)
		return nil
	}
	cli, err := parseCommandLine(cmd.name, args, cmd.options(options()))
	if errors.Is(err, errHelp) {
		writeHelp(e.stdout, cmd, cmds)
		return nil
	}
	if err != nil {
		return err
	}
	cfg, file, err := loadConfig(cmd, cli)
	if err != nil {
		return err
	}
	if cfg.PrintConfig {
		sources := "defaults"
		if cfg.ConfigFile != "" {
			sources += ", " + cfg.ConfigFile
		}
		for _, n := range cli.names() {
			if n != "config" && n != "print-config" {
				sources += ", the command line"
				break
			}
		}
		return printConfig(e.stdout, cfg, cmd.options(options()), sources)
	}
	return cmd.run(ctx, &invocation{cmd: cmd, cfg: cfg, cli: cli, file: file, env: e})
}

func commandNames(cmds []*command) string {
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}
