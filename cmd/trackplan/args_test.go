package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan/notion/notiontest"
)

// No test here calls t.Parallel: the app's flags are package state.

// appCommand is one command of the app's tree.
type appCommand struct {
	path []string // "plan", "lint"
	cmd  *cli.Command
}

func (a appCommand) name() string { return strings.Join(a.path, " ") }

func (a appCommand) leaf() bool { return len(a.cmd.Subcommands) == 0 || a.cmd.Action != nil }

// appCommands walks the app's command tree: every command and subcommand.
func appCommands() []appCommand {
	var out []appCommand
	var walk func(cmds []*cli.Command, prefix []string)
	walk = func(cmds []*cli.Command, prefix []string) {
		for _, c := range cmds {
			path := append(slices.Clone(prefix), c.Name)
			out = append(out, appCommand{path: path, cmd: c})
			walk(c.Subcommands, path)
		}
	}
	walk(newApp(nil, io.Discard, io.Discard).Commands, nil)
	return out
}

// emptyDir checks dir holds no file: nothing was created in it.
func emptyDir(t *testing.T, dir, what string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s created %s in the working directory", what, e.Name())
	}
}

func normalized(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := normalizeArgs(newApp(nil, io.Discard, io.Discard), append([]string{"trackplan"}, args...))
	if err != nil {
		t.Fatalf("normalize %q: %v", args, err)
	}
	return out[1:]
}

// TestArgsNormalize checks where flags end up: global flags before the
// command, a command's flags before its positional arguments, values kept
// with their flags, and -- ending the flags.
func TestArgsNormalize(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"drift", "--db", "x"}, []string{"--db", "x", "drift"}},
		{[]string{"drift", "--db=x", "--format", "json"}, []string{"--db=x", "drift", "--format", "json"}},
		{[]string{"drift", "-db", "x"}, []string{"-db", "x", "drift"}},
		{[]string{"--db", "x", "drift"}, []string{"--db", "x", "drift"}},
		{[]string{"drift", "--events", "-", "--db", "-odd-name"}, []string{"--db", "-odd-name", "drift", "--events", "-"}},
		{[]string{"plan", "lint", "--plan", "p.yaml"}, []string{"--plan", "p.yaml", "plan", "lint"}},
		{[]string{"plan", "lint", "p.yaml", "--format", "json"}, []string{"plan", "lint", "--format", "json", "p.yaml"}},
		{[]string{"plan", "push", "f.yaml", "--dry-run"}, []string{"plan", "push", "--dry-run", "f.yaml"}},
		{[]string{"plan", "push", "--dry-run", "f.yaml"}, []string{"plan", "push", "--dry-run", "f.yaml"}},
		{[]string{"import", "a", "--source", "s", "b", "--check=false"}, []string{"import", "--source", "s", "--check=false", "a", "b"}},
		{[]string{"import", "a", "--db", "x", "--", "--b", "-"}, []string{"--db", "x", "import", "--", "a", "--b", "-"}},
		{[]string{"plan", "diff", "old", "new", "--fail-on", "breaking", "--db", "d"},
			[]string{"--db", "d", "plan", "diff", "--fail-on", "breaking", "old", "new"}},
		{[]string{"forget", "--user", "a", "--user=b"}, []string{"forget", "--user", "a", "--user=b"}},
		// urfave's own: help, the version, shell completion.
		{[]string{"drift", "help"}, []string{"drift", "help"}},
		{[]string{"help", "drift"}, []string{"help", "drift"}},
		{[]string{"drift", "--help"}, []string{"drift", "--help"}},
		{[]string{"drift", "--version"}, []string{"--version", "drift"}},
		{[]string{"drift", "--db", "x", "--generate-bash-completion"}, []string{"drift", "--db", "x", "--generate-bash-completion"}},
		{[]string{}, []string{}},
	} {
		if diff := cmp.Diff(tc.want, normalized(t, tc.in...)); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.in, diff)
		}
	}
}

// sampleValue is a value a flag parses.
func sampleValue(f cli.Flag) string {
	switch f.(type) {
	case *cli.IntFlag, *cli.Int64Flag, *cli.Float64Flag:
		return "3"
	case *cli.DurationFlag:
		return "1s"
	case *cli.TimestampFlag:
		return "2026-01-02T03:04:05Z"
	}
	return "v"
}

// TestArgsPlacementEveryCommand runs through every command and subcommand
// of the app: a global flag after the command is the same as before it (it
// is applied: a bad --log-level fails both the same way), the command's own
// flags go before its positional arguments, and a positional argument the
// command does not take is rejected with exit 2, naming it, before anything
// runs.
func TestArgsPlacementEveryCommand(t *testing.T) {
	t.Chdir(t.TempDir())
	cwd, _ := os.Getwd()
	for _, c := range appCommands() {
		t.Run(c.name(), func(t *testing.T) {
			if !c.leaf() {
				code, _, stderr := trackplanRun(t, append(c.path, "extra-arg")...)
				want := "unknown command `" + c.name() + " extra-arg`"
				if code != exitUsage || !strings.Contains(stderr, want) {
					t.Errorf("%s extra-arg: exit %d, %q; want exit 2 and %s", c.name(), code, stderr, want)
				}
				return
			}
			// Global flags, before and after the command.
			for _, db := range [][]string{{"--db", "elsewhere.db"}, {"--db=elsewhere.db"}, {"-db", "elsewhere.db"}} {
				before := normalized(t, append(slices.Clone(db), c.path...)...)
				after := normalized(t, append(slices.Clone(c.path), db...)...)
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("%s after the command (-before +after):\n%s", db, diff)
				}
			}
			codeB, outB, errB := trackplanRun(t, append([]string{"--log-level=loud", "--db", "missing.db"}, c.path...)...)
			codeA, outA, errA := trackplanRun(t, append(slices.Clone(c.path), "--log-level", "loud", "--db=missing.db")...)
			if codeA != exitUsage || !strings.Contains(errA, "--log-level") || codeA != codeB || errA != errB || outA != outB {
				t.Errorf("global flags after the command: exit %d %q; before it: exit %d %q; want the same exit 2 for --log-level",
					codeA, errA, codeB, errB)
			}

			// The command's own flags after its positional arguments.
			spec := argsOf(c.name(), c.cmd)
			var pos []string
			for i := range max(spec.max, 1) {
				pos = append(pos, "arg"+string(rune('1'+i)))
			}
			if spec.max == 0 {
				pos = nil
			}
			for _, f := range c.cmd.Flags {
				flag := []string{"--" + f.Names()[0]}
				if takesValue(f) {
					flag = append(flag, sampleValue(f))
				}
				in := append(append(slices.Clone(c.path), pos...), flag...)
				want := append(append(slices.Clone(c.path), flag...), pos...)
				if diff := cmp.Diff(want, normalized(t, in...)); diff != "" {
					t.Errorf("%q (-want +got):\n%s", in, diff)
				}
			}

			// One positional argument too many.
			if spec.max < 0 {
				t.Logf("%s takes any number of arguments", c.name())
				return
			}
			var args []string
			for i := range spec.max + 1 {
				args = append(args, "extra-"+string(rune('a'+i)))
			}
			extra := args[spec.max]
			code, _, stderr := trackplanRun(t, append(append(slices.Clone(c.path), args...), "--db", "missing.db")...)
			if code != exitUsage || !strings.Contains(stderr, `unexpected argument "`+extra+`"`) {
				t.Errorf("%s %s: exit %d, %q; want exit 2 naming %s", c.name(), strings.Join(args, " "), code, stderr, extra)
			}
			emptyDir(t, cwd, c.name())
		})
	}
}

// TestPositionalFalsePasses checks the command lines that used to pass
// while doing something else than asked now do what was asked, or fail.
func TestPositionalFalsePasses(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	if err := os.WriteFile(plan, []byte(`version: 1
events:
  - name: Signed Up
    type: track
    description: A user created a login.
    status: live
    owner: growth@example.com
    properties:
      - name: plan
        type: string
        description: The plan chosen.
`), 0o600); err != nil {
		t.Fatal(err)
	}
	planned := func(t *testing.T, out string) int {
		t.Helper()
		var rep struct {
			Summary struct {
				EventsPlanned int `json:"events_planned"`
			} `json:"summary"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return rep.Summary.EventsPlanned
	}

	t.Run("plan lint FILE", func(t *testing.T) {
		code, out, stderr := trackplanRun(t, "plan", "lint", plan, "--format", "json")
		if code != 0 || planned(t, out) != 1 {
			t.Errorf("plan lint FILE: exit %d %s; want FILE's one event linted", code, stderr)
		}
		code, out, stderr = trackplanRun(t, "plan", "lint", "--plan", plan, "--format=json")
		if code != 0 || planned(t, out) != 1 {
			t.Errorf("plan lint --plan FILE: exit %d %s; want FILE's one event linted", code, stderr)
		}
		code, _, stderr = trackplanRun(t, "plan", "lint", "no-such-plan.yaml")
		if code != exitUsage || !strings.Contains(stderr, "no-such-plan.yaml") {
			t.Errorf("plan lint of a missing file: exit %d %q; want exit 2 naming it", code, stderr)
		}
		code, _, stderr = trackplanRun(t, "plan", "lint", plan, plan)
		if code != exitUsage || !strings.Contains(stderr, "unexpected argument") || !strings.Contains(stderr, "[FILE]") {
			t.Errorf("plan lint FILE FILE: exit %d %q; want exit 2, one [FILE]", code, stderr)
		}
	})

	t.Run("drift extra-arg --db x", func(t *testing.T) {
		code, out, stderr := trackplanRun(t, "drift", "extra-arg", "--db", "x")
		if code != exitUsage || !strings.Contains(stderr, `unexpected argument "extra-arg"`) || out != "" {
			t.Errorf("exit %d, %q; want exit 2 naming extra-arg", code, stderr)
		}
		emptyDir(t, dir, "drift extra-arg --db x")
	})

	t.Run("plan push FILE --dry-run", func(t *testing.T) {
		srv := notiontest.New(t, notiontest.Options{})
		t.Setenv("NOTION_TOKEN", notiontest.DefaultToken)
		url := "--notion-url=" + srv.URL // a flag, not its variable: that would stay in the flag after the test
		code, out, stderr := trackplanRun(t, url, "--notion-rate=1000", "plan", "init", "--notion-parent", notiontest.RootPage)
		m := regexp.MustCompile(`--plan notion:(\S+)`).FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("plan init: exit %d %s%s", code, out, stderr)
		}
		writes := srv.Writes()
		code, out, stderr = trackplanRun(t, "plan", "push", plan, "--dry-run", url, "--notion-rate=1000", "--plan", "notion:"+m[1])
		if code != 0 || !strings.Contains(out, "would change") || srv.Writes() != writes {
			t.Errorf("plan push FILE --dry-run: exit %d, %d writes\n%s%s", code, srv.Writes()-writes, out, stderr)
		}
		code, _, stderr = trackplanRun(t, "plan", "push", "--dry-run")
		if code != exitUsage || !strings.Contains(stderr, "needs exactly one FILE") {
			t.Errorf("plan push without FILE: exit %d %q", code, stderr)
		}
	})

	t.Run("plan diff OLD NEW --fail-on breaking", func(t *testing.T) {
		old, breaking, _ := writePlanDiffFiles(t)
		code, out, stderr := trackplanRun(t, "plan", "diff", old, breaking, "--fail-on", "breaking")
		codeFirst, outFirst, _ := trackplanRun(t, "plan", "diff", "--fail-on", "breaking", old, breaking)
		if code != exitFindings || code != codeFirst || out != outFirst {
			t.Errorf("--fail-on after the plans: exit %d %s; before them: exit %d; want the same exit 1", code, stderr, codeFirst)
		}
	})

	t.Run("a mistyped --db", func(t *testing.T) {
		code, out, stderr := trackplanRun(t, "--db", "wrok.db", "observed")
		if code != exitUsage || out != "" ||
			!strings.Contains(stderr, "no store at wrok.db: run `trackplan serve` or `trackplan import` first, or pass --db") {
			t.Errorf("exit %d %q %q; want exit 2 and what to do", code, out, stderr)
		}
		emptyDir(t, dir, "observed --db wrok.db")
	})
}

// TestStoreMissing runs every command but the daemon and the demo in an
// empty directory with no store: none creates a file there, and those that
// read the store say there is none (exit 2), with --db before or after the
// command. migrate, import and rebuild --into create the store they are
// given.
func TestStoreMissing(t *testing.T) {
	srv := notiontest.New(t, notiontest.Options{})
	t.Setenv("NOTION_TOKEN", notiontest.DefaultToken)
	notion := []string{"--notion-url=" + srv.URL, "--notion-rate=1000"} // flags: a variable would stay in the flag
	code, out, stderr := trackplanRun(t, append(slices.Clone(notion), "plan", "init", "--notion-parent", notiontest.RootPage)...)
	m := regexp.MustCompile(`--plan notion:(\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("plan init: exit %d %s%s", code, out, stderr)
	}
	notionPlan := append(slices.Clone(notion), "--plan=notion:"+m[1])

	// The commands that read the store, with what they need to get there.
	readers := map[string][]string{
		"observed":  nil,
		"drift":     nil,
		"score":     nil,
		"push":      nil,
		"events":    nil,
		"runs":      nil,
		"rebuild":   nil,
		"forget":    {"--user", "someone"},
		"sync":      notionPlan,
		"plan diff": {"--previous"},
	}
	// The commands that create the store, or run until stopped: not run
	// here. Every other command runs with no arguments; a new one that
	// creates a store belongs in storeCreators and here.
	skip := map[string]bool{"serve": true, "demo": true, "import": true, "migrate": true}
	for _, c := range appCommands() {
		name := c.name()
		extra, reads := readers[name]
		if !c.leaf() || skip[name] {
			continue
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			code, out, stderr := trackplanRun(t, append(slices.Clone(c.path), extra...)...)
			if (reads || strings.Contains(stderr, "no store")) && (code != exitUsage || !strings.Contains(stderr, "no store at trackplan.db")) {
				t.Errorf("exit %d %q %q; want exit 2, no store at trackplan.db", code, out, stderr)
			}
			if reads {
				missing := filepath.Join(t.TempDir(), "wrok.db")
				for _, args := range [][]string{
					append(append([]string{"--db", missing}, c.path...), extra...),
					append(append(slices.Clone(c.path), extra...), "--db", missing),
				} {
					code, _, stderr := trackplanRun(t, args...)
					if code != exitUsage || !strings.Contains(stderr, "no store at "+missing) {
						t.Errorf("%q: exit %d %q; want exit 2, no store at %s", args, code, stderr, missing)
					}
					emptyDir(t, filepath.Dir(missing), name)
				}
			}
			emptyDir(t, dir, name)
		})
	}

	t.Run("creators", func(t *testing.T) {
		t.Chdir(t.TempDir())
		db := filepath.Join(t.TempDir(), "new.db")
		if code, _, stderr := trackplanRun(t, "migrate", "--db", db); code != 0 {
			t.Fatalf("migrate: exit %d %s", code, stderr)
		}
		if _, err := os.Stat(db); err != nil {
			t.Errorf("migrate did not create the store: %v", err)
		}
		if code, _, stderr := trackplanRun(t, "--db", db, "observed"); code != 0 {
			t.Errorf("observed on the migrated store: exit %d %s", code, stderr)
		}
		// rebuild reads a store that must exist and may create its --into.
		into := filepath.Join(t.TempDir(), "into.db")
		if code, _, stderr := trackplanRun(t, "rebuild", "--db", filepath.Join(t.TempDir(), "none.db"), "--into", into); code != exitUsage ||
			!strings.Contains(stderr, "no store at") {
			t.Errorf("rebuild of a missing store: exit %d %s", code, stderr)
		}
		if code, _, stderr := trackplanRun(t, "rebuild", "--db", db, "--into", into, "--no-progress"); code != 0 {
			t.Errorf("rebuild --into: exit %d %s", code, stderr)
		}
		if _, err := os.Stat(into); err != nil {
			t.Errorf("rebuild --into did not create its store: %v", err)
		}
		// A store whose derived state is gone still has its log.
		if err := os.Remove(db); err != nil {
			t.Fatal(err)
		}
		if code, _, stderr := trackplanRun(t, "rebuild", "--db", db, "--no-progress", "--force"); code != 0 {
			t.Errorf("rebuild of a store with only its log: exit %d %s", code, stderr)
		}
	})
}

// TestUnknownCommand checks a mistyped command or flag exits 2 and
// suggests the right one.
func TestUnknownCommand(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"drfit"}, "unknown command `drfit`; did you mean `drift`?"},
		{[]string{"--db", "x", "obsreved", "--format", "json"}, "unknown command `obsreved`; did you mean `observed`?"},
		{[]string{"plan", "lnt"}, "unknown command `plan lnt`; did you mean `plan lint`?"},
		{[]string{"plan", "expor"}, "unknown command `plan expor`; did you mean `plan export`?"},
		{[]string{"help", "drfit"}, "unknown command `drfit`; did you mean `drift`?"},
		{[]string{"frobnicate"}, "unknown command `frobnicate`; `trackplan help` lists the commands"},
		{[]string{"drift", "--dbb", "x"}, "flag provided but not defined: --dbb (`trackplan drift`); did you mean --db?"},
		{[]string{"plan", "lint", "--formt", "json"}, "did you mean --format?"},
	} {
		code, out, stderr := trackplanRun(t, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, stderr, tc.want)
		}
	}
	emptyDir(t, ".", "a mistyped command")
}

// TestColorNoColor checks NO_COLOR, set to anything, hides the terminal
// from the reports' colour decision (isTerminal).
func TestColorNoColor(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Setenv("NO_COLOR", "")
	if noColor(f) != io.Writer(f) {
		t.Error("an empty NO_COLOR changed standard output")
	}
	for _, v := range []string{"1", "0", "false", "yes"} {
		t.Setenv("NO_COLOR", v)
		w := noColor(f)
		if _, ok := w.(*os.File); ok {
			t.Errorf("NO_COLOR=%s: standard output is still a file a terminal could be behind", v)
		}
		if n, err := w.Write([]byte("x")); n != 1 || err != nil {
			t.Errorf("NO_COLOR=%s: write: %d %v", v, n, err)
		}
	}
}
