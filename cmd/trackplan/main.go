// Command trackplan keeps a Notion (or file) tracking plan honest against the
// Segment events that really arrive, reports drift, and scores engagement.
// See the README for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
)

// Exit codes, as documented in the README.
const (
	exitOK       = 0
	exitFindings = 1
	exitUsage    = 2
	exitUpstream = 3
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, noColor(stdout), stderr)
	args, err := normalizeArgs(app, args)
	if err == nil {
		err = app.RunContext(ctx, args)
	}
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "trackplan:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "trackplan:", err)
	switch {
	case errors.Is(err, trackplan.ErrUnauthorized), errors.Is(err, trackplan.ErrNotFound), errors.Is(err, errUpstream):
		return exitUpstream
	}
	return exitUsage
}

// exitError carries an exit code out of a command.
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

// errUpstream marks failures of a system trackplan depends on (the
// database, Notion, Segment): exit code 3.
var errUpstream = errors.New("upstream failure")

func upstream(err error) error {
	return &exitError{code: exitUpstream, err: err}
}

func usage(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                 "trackplan",
		Usage:                "keep your tracking plan honest and score engagement from Segment events",
		Version:              version,
		Reader:               stdin,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {}, // run maps errors to exit codes
		Flags:                globalFlags(),
		Before: func(c *cli.Context) error {
			if err := setupLogger(c, stderr); err != nil {
				return err
			}
			return startProfile(c)
		},
		After: stopProfile,
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usage("%v", err)
		},
		Commands: []*cli.Command{
			serveCommand(),
			importCommand(),
			eventsCommand(),
			rebuildCommand(),
			forgetCommand(),
			observedCommand(),
			simulateCommand(),
			scoreCommand(),
			pushCommand(),
			driftCommand(),
			syncCommand(),
			planCommand(),
			codegenCommand(),
			runsCommand(),
			alertsCommand(),
			forwardCommand(),
			demoCommand(),
			migrateCommand(),
			configCommand(),
			versionCommand(),
		},
	}
	describeArgs(app.Commands, "")
	allowStoreCreation(app.Commands, "")
	return app
}

// noColor hides the terminal behind standard output when NO_COLOR is set to
// anything (https://no-color.org): isTerminal, which every report asks
// before colouring, then says no.
func noColor(stdout io.Writer) io.Writer {
	if os.Getenv("NO_COLOR") != "" {
		return plainWriter{stdout}
	}
	return stdout
}

// plainWriter is a writer that is no terminal.
type plainWriter struct{ io.Writer }

// globalFlags returns the global flags, new for each app: urfave/cli writes
// a variable's value into the flag it sets. Only the flags that name
// variables read one: a flag that sets a config key reads the key's
// (envconfig.go), and the flags that shape output read none.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "YAML config file", EnvVars: []string{"TRACKPLAN_CONFIG"}},
		&cli.StringFlag{Name: "db", Usage: "store: a file path (SQLite) or postgres://…", Value: "trackplan.db", EnvVars: []string{"TRACKPLAN_DB"}},
		&cli.StringFlag{Name: "plan", Usage: "plan: a YAML/JSON file or notion:<events-database-id> (default: the config, else the B2B SaaS template)", EnvVars: []string{"TRACKPLAN_PLAN"}},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"TRACKPLAN_LOG_LEVEL"}},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json", EnvVars: []string{"TRACKPLAN_LOG_FORMAT"}},
		&cli.StringFlag{Name: "notion-url", Usage: "Notion API base URL (for proxies and tests)", EnvVars: []string{"TRACKPLAN_NOTION_BASE_URL"}},
		&cli.Float64Flag{Name: "notion-rate", Usage: "Notion requests per second (default 3, Notion's limit)", EnvVars: []string{"TRACKPLAN_NOTION_RATE"}},
		&cli.StringFlag{Name: "notion-properties-db", Usage: "the Notion Properties database id (default: found through the Events relation)", EnvVars: []string{"TRACKPLAN_NOTION_PROPERTIES_DATABASE"}},
		&cli.StringFlag{Name: "cpu-profile", Usage: "write a CPU profile of the run to this file", Hidden: true},
	}
}

func setupLogger(c *cli.Context, stderr io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return usage("--log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch c.String("log-format") {
	case "text":
		h = slog.NewTextHandler(stderr, opts)
	case "json":
		h = slog.NewJSONHandler(stderr, opts)
	default:
		return usage("--log-format must be text or json, not %q", c.String("log-format"))
	}
	c.App.Metadata = map[string]any{"logger": slog.New(h)}
	return nil
}

// logger returns the logger chosen by the global flags.
func logger(c *cli.Context) *slog.Logger {
	if l, ok := c.App.Metadata["logger"].(*slog.Logger); ok {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			fmt.Fprintln(c.App.Writer, "trackplan", version)
			return nil
		},
	}
}

// startProfile starts the CPU profile asked for with --cpu-profile.
func startProfile(c *cli.Context) error {
	path := c.String("cpu-profile")
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return usage("--cpu-profile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return usage("--cpu-profile: %v", err)
	}
	c.App.Metadata["profile"] = f
	return nil
}

func stopProfile(c *cli.Context) error {
	if f, ok := c.App.Metadata["profile"].(*os.File); ok {
		pprof.StopCPUProfile()
		return f.Close()
	}
	return nil
}
