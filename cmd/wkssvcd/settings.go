package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// A layer is the settings one source gives, in the order it gives them:
// the configuration file or the command line. Layers apply over the
// defaults in order; a later layer that names an option replaces what the
// earlier ones said about it (every value of a repeatable option).
type layer struct {
	source  string // for messages: "command line" or the file's path
	entries []entry
}

type entry struct {
	name string
	vals []string
}

func (l *layer) add(name, val string) {
	for i := range l.entries {
		if l.entries[i].name == name {
			l.entries[i].vals = append(l.entries[i].vals, val)
			return
		}
	}
	l.entries = append(l.entries, entry{name: name, vals: []string{val}})
}

// lookup returns the last value given for name.
func (l *layer) lookup(name string) (string, bool) {
	for _, e := range l.entries {
		if e.name == name && len(e.vals) > 0 {
			return e.vals[len(e.vals)-1], true
		}
	}
	return "", false
}

// names returns the options the layer sets.
func (l *layer) names() []string {
	out := make([]string, len(l.entries))
	for i, e := range l.entries {
		out[i] = e.name
	}
	return out
}

// applyTo sets the layer's values in cfg. Options not in opts are ignored
// (a configuration file shared by several commands holds settings some of
// them do not take).
func (l *layer) applyTo(cfg *config, opts []*option) error {
	for _, e := range l.entries {
		o := lookupOption(opts, e.name)
		if o == nil {
			continue
		}
		v := o.bind(cfg)
		if lv, ok := v.(listValue); ok {
			lv.reset()
		} else if len(e.vals) > 1 && l.source != sourceCommandLine {
			return &usageError{fmt.Sprintf("%s: %s takes one value, not a list", l.source, o.name)}
		}
		for _, s := range e.vals {
			if err := v.Set(s); err != nil {
				if l.source == sourceCommandLine {
					return &usageError{fmt.Sprintf("invalid value %q for flag --%s: %v", s, o.name, err)}
				}
				return &usageError{fmt.Sprintf("%s: %s = %q: %v", l.source, o.name, s, err)}
			}
		}
	}
	return nil
}

const sourceCommandLine = "command line"

// errHelp is returned by parseCommandLine for -h and --help.
var errHelp = errors.New("help requested")

// usageError is a mistake in the command line or the configuration file;
// the process exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// recorder is the flag.Value of one option on the command line: it checks
// the value at once (so the message names the flag) and records it.
type recorder struct {
	opt *option
	l   *layer
}

func (r *recorder) String() string { return "" }

func (r *recorder) Set(s string) error {
	if err := r.opt.bind(&config{}).Set(s); err != nil {
		return err
	}
	r.l.add(r.opt.name, s)
	return nil
}

func (r *recorder) IsBoolFlag() bool {
	_, ok := r.opt.bind(&config{}).(boolValue)
	return ok
}

// parseCommandLine reads the flags of one command into a layer. It accepts
// -name and --name, "--name value" and "--name=value".
func parseCommandLine(cmd string, args []string, opts []*option) (*layer, error) {
	l := &layer{source: sourceCommandLine}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for _, o := range opts {
		fs.Var(&recorder{opt: o, l: l}, o.name, o.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		msg := strings.Replace(err.Error(), "flag: -", "flag --", 1)
		msg = strings.Replace(msg, "for flag -", "for flag --", 1)
		msg = strings.Replace(msg, "flag needs an argument: -", "flag needs an argument: --", 1)
		return nil, &usageError{msg}
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	return l, nil
}

// maxConfigFile bounds the configuration file read.
const maxConfigFile = 1 << 20

// readConfigFile reads a TOML configuration file into a layer. Its keys are
// option names; a key no command knows is an error (a typo must not be
// ignored), and so are passwords, which belong in --admin-file.
func readConfigFile(path string, all []*option) (*layer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("configuration file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, fmt.Errorf("configuration file %s: %w", path, err)
	}
	if len(data) > maxConfigFile {
		return nil, usagef("configuration file %s: larger than %d bytes", path, maxConfigFile)
	}
	var raw map[string]any
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, usagef("configuration file %s: line %d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, usagef("configuration file %s: %v", path, err)
	}
	l := &layer{source: path}
	for _, key := range md.Keys() {
		if len(key) != 1 {
			continue // inside a table: refused below with its table's name
		}
		name := key[0]
		o := lookupOption(all, name)
		if _, isTable := raw[name].(map[string]any); isTable {
			return nil, usagef("%s: [%s] is a table; write the settings at the top level, without [sections]", path, name)
		}
		switch {
		case o == nil:
			return nil, usagef("%s: unknown setting %q (the settings are the flag names of wkssvcd --help)", path, name)
		case o.secret:
			return nil, usagef("%s: %s: passwords do not belong in the configuration file; name a file that holds them with %s-file", path, name, name)
		case o.cliOnly:
			return nil, usagef("%s: %s is a command-line flag only", path, name)
		}
		vals, err := tomlStrings(raw[name], o)
		if err != nil {
			return nil, usagef("%s: %s: %v", path, name, err)
		}
		if len(vals) == 0 {
			l.entries = append(l.entries, entry{name: name}) // an empty list clears
		}
		for _, v := range vals {
			l.add(name, v)
		}
	}
	return l, nil
}

// tomlStrings turns a TOML value into the strings the option's Set takes.
func tomlStrings(v any, o *option) ([]string, error) {
	_, isList := o.bind(&config{}).(listValue)
	switch t := v.(type) {
	case string:
		return []string{t}, nil
	case int64:
		return []string{strconv.FormatInt(t, 10)}, nil
	case bool:
		return []string{strconv.FormatBool(t)}, nil
	case []any:
		if !isList {
			return nil, errors.New("takes one value, not a list")
		}
		var out []string
		for _, e := range t {
			s, err := tomlStrings(e, &option{bind: func(*config) value { return new(stringValue) }})
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	case map[string]any:
		return nil, errors.New("is a table; write the settings at the top level, without [sections]")
	default:
		return nil, fmt.Errorf("unsupported value %v (want a string, an integer or true/false)", v)
	}
}

// loadConfig builds the configuration of a command: option defaults, then
// the configuration file (--config), then the command line; then the
// computed defaults.
func loadConfig(cmd *command, cli *layer) (*config, *layer, error) {
	all := options()
	opts := cmd.options(all)
	cfg := &config{}
	for _, o := range opts {
		if o.def != "" {
			if err := o.bind(cfg).Set(o.def); err != nil {
				return nil, nil, fmt.Errorf("default of %s: %w", o.name, err)
			}
		}
	}
	var file *layer
	if path, ok := cli.lookup("config"); ok {
		var err error
		if file, err = readConfigFile(path, all); err != nil {
			return nil, nil, err
		}
		if err := file.applyTo(cfg, opts); err != nil {
			return nil, nil, err
		}
	}
	if err := cli.applyTo(cfg, opts); err != nil {
		return nil, nil, err
	}
	if err := cfg.fillDefaults(cmd.groups); err != nil {
		return nil, nil, &usageError{err.Error()}
	}
	return cfg, file, nil
}

// printConfig writes the effective settings of opts as a configuration
// file that --config reads back. Passwords are never written: an option
// holding them shows only its user names, in a comment.
func printConfig(w io.Writer, cfg *config, opts []*option, sources string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# wkssvcd settings in effect (%s).\n", sources)
	for _, g := range groupOrder {
		first := true
		for _, o := range opts {
			if o.group != g || o.cliOnly {
				continue
			}
			if first {
				fmt.Fprintf(&b, "\n# %s\n", groupTitles[g])
				first = false
			}
			v := o.bind(cfg).get()
			if o.secret {
				if names, _ := v.([]string); len(names) > 0 {
					fmt.Fprintf(&b, "# %s: %s given on the command line (passwords not shown)\n", o.name, strings.Join(names, ", "))
				}
				continue
			}
			if err := toml.NewEncoder(&b).Encode(map[string]any{o.name: v}); err != nil {
				return err
			}
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// writeHelp prints the usage of cmd: its flags by group, each with its
// default.
func writeHelp(w io.Writer, cmd *command, cmds []*command) {
	var b strings.Builder
	if cmd.name == defaultCommand {
		fmt.Fprintf(&b, "usage: wkssvcd [%s] [FLAGS]\n       wkssvcd COMMAND [FLAGS]\n\n", cmd.name)
		b.WriteString("Commands:\n")
		names := make([]*command, len(cmds))
		copy(names, cmds)
		sort.SliceStable(names, func(i, j int) bool { return names[i].name == defaultCommand && names[j].name != defaultCommand })
		for _, c := range names {
			fmt.Fprintf(&b, "  %-12s %s\n", c.name, c.summary)
		}
		b.WriteString("\n")
	} else {
		fmt.Fprintf(&b, "usage: wkssvcd %s [FLAGS]\n\n%s\n\n", cmd.name, cmd.summary)
	}
	if cmd.about != "" {
		b.WriteString(cmd.about)
		b.WriteString("\n\n")
	}
	opts := cmd.options(options())
	for _, g := range groupOrder {
		first := true
		for _, o := range opts {
			if o.group != g {
				continue
			}
			if first {
				fmt.Fprintf(&b, "%s:\n", groupTitles[g])
				first = false
			}
			_, usage := flag.UnquoteUsage(&flag.Flag{Usage: o.usage})
			fmt.Fprintf(&b, "  --%s", o.name)
			if o.arg != "" {
				fmt.Fprintf(&b, " %s", o.arg)
			}
			if d := o.helpDefault(); d != "" {
				usage += " (default " + d + ")"
			}
			b.WriteString("\n")
			b.WriteString(wrap(usage, "        ", 78))
		}
		if !first {
			b.WriteString("\n")
		}
	}
	b.WriteString(exitStatusHelp)
	io.WriteString(w, b.String())
}

// wrap breaks text into lines of at most width columns, each starting
// with indent.
func wrap(text, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, w := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	b.WriteString(line + "\n")
	return b.String()
}

const exitStatusHelp = `Exit status: 0 success (or a clean stop on SIGTERM), 1 a failure while
running, 2 a mistake in the flags or the configuration file.
`
