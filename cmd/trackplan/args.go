package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// urfave/cli v2 wants every flag of a command before its positional
// arguments, and the app's own (global) flags before the command name: a
// flag after a positional argument is taken as one more argument, and a
// global flag after the command name is "not defined". normalizeArgs puts
// them where urfave wants them before the app parses anything, from the
// app's own command tree, so people may type flags where they think of
// them: `trackplan drift --db x`, `trackplan plan push FILE --dry-run`.

// argSpec is what a command takes after its flags.
type argSpec struct {
	usage string // for the help, when the command does not say it itself
	max   int    // the most positional arguments; < 0: any number
}

// positionalArgs are the commands that take positional arguments, by
// command path. A command not listed takes none, unless its ArgsUsage says
// it does (then its action checks them). The least number is checked by
// each command's action, which knows how to say what is missing.
var positionalArgs = map[string]argSpec{
	"import":    {usage: "FILE…", max: -1},
	"plan push": {usage: "FILE", max: 1},
	"plan lint": {usage: "[FILE]", max: 1},
	"plan diff": {usage: "OLD NEW | --previous", max: 2},
}

// argsOf returns what the command at path takes.
func argsOf(path string, cmd *cli.Command) argSpec {
	if s, ok := positionalArgs[path]; ok {
		return s
	}
	if cmd.ArgsUsage != "" {
		return argSpec{usage: cmd.ArgsUsage, max: -1}
	}
	return argSpec{}
}

// describeArgs gives every command of the tree the ArgsUsage of its
// positionalArgs entry when it has none of its own, for the help.
func describeArgs(cmds []*cli.Command, prefix string) {
	for _, cmd := range cmds {
		path := strings.TrimSpace(prefix + " " + cmd.Name)
		if s, ok := positionalArgs[path]; ok && cmd.ArgsUsage == "" {
			cmd.ArgsUsage = s.usage
		}
		describeArgs(cmd.Subcommands, path)
	}
}

// cmdLevel is the app or one command of the command line, with the flags
// that belong to it.
type cmdLevel struct {
	cmd   *cli.Command // nil for the app
	token string       // the command's name as typed
	path  string       // "plan lint"
	flags []string
}

func (l *cmdLevel) known(app *cli.App) []cli.Flag {
	if l.cmd == nil {
		flags := append([]cli.Flag{}, app.Flags...)
		if !app.HideHelp && cli.HelpFlag != nil {
			flags = append(flags, cli.HelpFlag)
		}
		if !app.HideVersion && app.Version != "" && cli.VersionFlag != nil {
			flags = append(flags, cli.VersionFlag)
		}
		return flags
	}
	flags := append([]cli.Flag{}, l.cmd.Flags...)
	if !l.cmd.HideHelp && cli.HelpFlag != nil {
		flags = append(flags, cli.HelpFlag)
	}
	return flags
}

func (l *cmdLevel) subcommands(app *cli.App) []*cli.Command {
	if l.cmd == nil {
		return app.Commands
	}
	return l.cmd.Subcommands
}

// normalizeArgs returns the command line (args[0] is the program) with
// every flag moved to the command it belongs to, before that command's
// subcommand or positional arguments: a flag is looked up in the command it
// follows, then in that command's parents up to the app's global flags.
// A flag that takes a value keeps it (--db x or --db=x; a bool flag takes
// none), and everything after -- stays a positional argument. It rejects an
// unknown command or flag and a positional argument the command does not
// take, naming it.
func normalizeArgs(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 {
		return args, nil
	}
	if app.EnableBashCompletion && args[len(args)-1] == "--generate-bash-completion" {
		return args, nil // urfave completes what is typed, as typed
	}
	levels := []*cmdLevel{{}}
	var (
		positional []string
		dashdash   bool // positional came after --
		help       bool
		rest       = args[1:]
	)
	verbatim := func(i int) []string { // the levels so far, then the rest as typed
		return append(assemble(args[0], levels, nil, false), rest[i:]...)
	}
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		cur := levels[len(levels)-1]
		// A command with an action of its own and subcommands (forward and
		// forward status) takes a subcommand's name as one.
		expectsCommand := len(positional) == 0 && len(cur.subcommands(app)) > 0 &&
			(cur.cmd == nil || cur.cmd.Action == nil || findCommand(cur.subcommands(app), a) != nil)
		switch {
		case a == "--":
			if expectsCommand {
				return args, nil // `trackplan -- …`: nothing to normalise
			}
			positional, dashdash = append(positional, rest[i+1:]...), true
			i = len(rest)
		case len(a) > 1 && a[0] == '-':
			name, hasValue := flagName(a)
			owner, f := findFlag(app, levels, name)
			if f == nil {
				return nil, unknownFlag(app, levels, a, name)
			}
			owner.flags = append(owner.flags, a)
			if f == cli.HelpFlag || f == cli.VersionFlag {
				help = true
			}
			if takesValue(f) && !hasValue && i+1 < len(rest) {
				i++
				owner.flags = append(owner.flags, rest[i])
			}
		case expectsCommand:
			if a == "help" || a == "h" {
				if err := checkHelpTopic(app, cur, rest[i+1:]); err != nil {
					return nil, err
				}
				return verbatim(i), nil
			}
			cmd := findCommand(cur.subcommands(app), a)
			if cmd == nil {
				return nil, unknownCommand(app, cur, a)
			}
			levels = append(levels, &cmdLevel{cmd: cmd, token: a, path: strings.TrimSpace(cur.path + " " + cmd.Name)})
		case len(positional) == 0 && cur.cmd != nil && (a == "help" || a == "h"):
			// urfave gives every command a help subcommand: `trackplan drift help`.
			return verbatim(i), nil
		default:
			positional = append(positional, a)
		}
	}
	leaf := levels[len(levels)-1]
	if leaf.cmd != nil && !help && (len(leaf.cmd.Subcommands) == 0 || leaf.cmd.Action != nil) {
		if spec := argsOf(leaf.path, leaf.cmd); spec.max >= 0 && len(positional) > spec.max {
			extra := positional[spec.max]
			if spec.max == 0 {
				return nil, usage("unexpected argument %q: `trackplan %s` takes no arguments", extra, leaf.path)
			}
			return nil, usage("unexpected argument %q: `trackplan %s` takes %s", extra, leaf.path, spec.usage)
		}
	}
	return assemble(args[0], levels, positional, dashdash), nil
}

// assemble writes the command line back: each level's name and flags, then
// the positional arguments (after -- when they came after one).
func assemble(prog string, levels []*cmdLevel, positional []string, dashdash bool) []string {
	out := []string{prog}
	for _, l := range levels {
		if l.cmd != nil {
			out = append(out, l.token)
		}
		out = append(out, l.flags...)
	}
	if dashdash {
		out = append(out, "--")
	}
	return append(out, positional...)
}

// flagName returns the name of a flag as typed (-x, --name or --name=v),
// and whether its value is in the same word.
func flagName(a string) (name string, hasValue bool) {
	name = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	name, _, hasValue = strings.Cut(name, "=")
	return name, hasValue
}

// findFlag looks a flag up in the innermost command first, then outwards
// to the app, and returns the level it belongs to.
func findFlag(app *cli.App, levels []*cmdLevel, name string) (*cmdLevel, cli.Flag) {
	if name == "" {
		return nil, nil
	}
	for i := len(levels) - 1; i >= 0; i-- {
		for _, f := range levels[i].known(app) {
			for _, n := range f.Names() {
				if n == name {
					return levels[i], f
				}
			}
		}
	}
	return nil, nil
}

func takesValue(f cli.Flag) bool {
	if d, ok := f.(cli.DocGenerationFlag); ok {
		return d.TakesValue()
	}
	return true
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// checkHelpTopic checks the command `trackplan [CMD] help TOPIC` asks
// about exists.
func checkHelpTopic(app *cli.App, cur *cmdLevel, rest []string) error {
	for _, a := range rest {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if a != "help" && a != "h" && findCommand(cur.subcommands(app), a) == nil {
			return unknownCommand(app, cur, a)
		}
		return nil
	}
	return nil
}

func unknownCommand(app *cli.App, cur *cmdLevel, name string) error {
	prefix := cur.path
	if prefix != "" {
		prefix += " "
	}
	var names []string
	for _, c := range cur.subcommands(app) {
		if !c.Hidden {
			names = append(names, c.Names()...)
		}
	}
	if s := suggest(name, names); s != "" {
		return usage("unknown command `%s%s`; did you mean `%s%s`?", prefix, name, prefix, s)
	}
	return usage("unknown command `%s%s`; `trackplan %shelp` lists the commands", prefix, name, prefix)
}

func unknownFlag(app *cli.App, levels []*cmdLevel, typed, name string) error {
	var names []string
	for i := len(levels) - 1; i >= 0; i-- {
		for _, f := range levels[i].known(app) {
			names = append(names, f.Names()...)
		}
	}
	cur := levels[len(levels)-1]
	where := "trackplan"
	if cur.path != "" {
		where += " " + cur.path
	}
	if s := suggest(name, names); s != "" {
		return usage("flag provided but not defined: %s (`%s`); did you mean --%s?", typed, where, s)
	}
	return usage("flag provided but not defined: %s (`%s --help` lists the flags)", typed, where)
}

// suggest returns the name closest to what was typed, if it is close
// enough to be a typo: at most one edit (a transposition counts as one) in
// a short name, two in a longer one, or a prefix of it.
func suggest(typed string, names []string) string {
	best, bestDist := "", 3
	limit := 1
	if len(typed) > 4 {
		limit = 2
	}
	for _, n := range names {
		d := editDistance(typed, n)
		if d <= limit && d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" && len(typed) >= 2 {
		for _, n := range names {
			if strings.HasPrefix(n, typed) {
				return n
			}
		}
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and transpositions of adjacent
// characters.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
