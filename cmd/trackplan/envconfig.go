package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"

	"github.com/trackplan/trackplan"
)

// Every config key that holds one value can be set by the environment as
// TRACKPLAN_<SECTION>_<KEY> (push.threshold is TRACKPLAN_PUSH_THRESHOLD).
// The list is derived from Config's yaml tags, so a new key has its
// variable at once; lists and maps (sources, scoring.profiles, the Notion
// column maps) have none and are set in the file. A value is decoded by
// the YAML decoder into the key's Go type, so it is read as the same value
// in the file would be (7d for a duration, yes/no or true/false for a
// bool), and the whole configuration is then validated as usual. An empty
// variable sets an empty string (schedule.score "" turns the job off); for
// a secret or another name of a variable it counts as unset, and for a
// number, bool or duration it is an error.
//
// The standard library and the YAML decoder are enough for this: a
// layering library (koanf, viper) would decode environment strings through
// mapstructure with its own rules for durations, bools and numbers, which
// is exactly the difference from the file this code avoids.

// envPrefix starts every trackplan variable.
const envPrefix = "TRACKPLAN_"

// envKey is a config key that can be set by one environment variable.
type envKey struct {
	Key  string // the key in the file: push.threshold
	Var  string // its variable: TRACKPLAN_PUSH_THRESHOLD
	Type string // string, secret, duration, int, float or bool
	// index is the path of the field in Config for FieldByIndex.
	index []int
	typ   reflect.Type
}

// envSkipped is a key that no single variable can hold.
type envSkipped struct {
	Key, Why string
}

// configEnv returns the keys that have a variable and those that do not,
// in the order of the Config struct.
var configEnv = sync.OnceValues(func() ([]envKey, []envSkipped) {
	var keys []envKey
	var skipped []envSkipped
	walkEnvKeys(reflect.TypeFor[Config](), nil, nil, &keys, &skipped)
	return keys, skipped
})

func walkEnvKeys(t reflect.Type, path []string, index []int, keys *[]envKey, skipped *[]envSkipped) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		idx := append(slices.Clone(index), i)
		p := append(slices.Clone(path), name)
		if slices.Contains(strings.Split(opts, ","), "inline") {
			p = slices.Clone(path)
		}
		key := strings.Join(p, ".")
		if kind, ok := envKind(f.Type); ok {
			*keys = append(*keys, envKey{Key: key, Var: envPrefix + strings.ToUpper(strings.Join(p, "_")),
				Type: kind, index: idx, typ: f.Type})
			continue
		}
		switch f.Type.Kind() {
		case reflect.Struct:
			walkEnvKeys(f.Type, p, idx, keys, skipped)
		case reflect.Slice, reflect.Array:
			*skipped = append(*skipped, envSkipped{key, "a list: set it in the file"})
		case reflect.Map:
			*skipped = append(*skipped, envSkipped{key, "a map: set it in the file"})
		default:
			*skipped = append(*skipped, envSkipped{key, "not a single value: set it in the file"})
		}
	}
}

// envKind names the kind of value a field of type t holds, or reports that
// it is no single value.
func envKind(t reflect.Type) (string, bool) {
	switch t {
	case reflect.TypeFor[Secret]():
		return "secret", true
	case reflect.TypeFor[Duration]():
		return "duration", true
	}
	if t.Kind() == reflect.Pointer && t.Elem().Kind() != reflect.Struct {
		t = t.Elem() // *bool: unset means "the default"
	}
	switch t.Kind() {
	case reflect.String:
		return "string", true
	case reflect.Bool:
		return "bool", true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int", true
	case reflect.Float32, reflect.Float64:
		return "float", true
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		return t.Name(), true
	}
	return "", false
}

// envKeyByVar finds the key a variable sets.
func envKeyByVar(name string) (envKey, bool) {
	keys, _ := configEnv()
	for _, k := range keys {
		if k.Var == name {
			return k, true
		}
	}
	return envKey{}, false
}

// envKeyByKey finds a key by its name in the file.
func envKeyByKey(key string) (envKey, bool) {
	keys, _ := configEnv()
	for _, k := range keys {
		if k.Key == key {
			return k, true
		}
	}
	return envKey{}, false
}

// set decodes value as the key's YAML value into cfg. The error names
// neither the key nor its variable (the caller does) and never holds the
// value of a secret (a secret is a string: it cannot fail to decode).
func (k envKey) set(cfg *Config, value string) error {
	field := reflect.ValueOf(cfg).Elem().FieldByIndex(k.index)
	node := &yaml.Node{Kind: yaml.ScalarNode, Value: value}
	switch k.Type {
	case "string", "secret":
		node.Tag = "!!str" // "123", "true" and "~" are strings here
	default:
		if strings.TrimSpace(value) == "" {
			return fmt.Errorf("is empty: unset it for the default, or give %s", k.want())
		}
		var v any // null would silently keep the default
		if err := node.Decode(&v); err == nil && v == nil {
			return fmt.Errorf("want %s, not %q", k.want(), value)
		}
	}
	if k.Type == "duration" {
		if _, err := parseDuration(value); err != nil {
			return err
		}
	}
	tmp := reflect.New(k.typ)
	if err := node.Decode(tmp.Interface()); err != nil {
		return fmt.Errorf("want %s, not %q", k.want(), value)
	}
	field.Set(tmp.Elem())
	return nil
}

// want says what a value of the key looks like.
func (k envKey) want() string {
	switch k.Type {
	case "int":
		return "a whole number"
	case "float":
		return "a number"
	case "bool":
		return "true or false"
	case "duration":
		return "a duration such as 90s, 15m, 2h or 7d"
	}
	return "a " + k.Type
}

// envAlias is another name of a key's variable, read when the key's own is
// not set. A deprecated one is read for one more release with a warning
// that names the new variable.
type envAlias struct {
	Old, New   string
	Deprecated bool
}

// envAliases lists the other names, the preferred first when two name the
// same key.
var envAliases = []envAlias{
	{"TRACKPLAN_SEGMENT_WRITE_KEY", "TRACKPLAN_PUSH_WRITE_KEY", true},
	{"SEGMENT_WRITE_KEY", "TRACKPLAN_PUSH_WRITE_KEY", false}, // Segment's own name
	{"NOTION_TOKEN", "TRACKPLAN_NOTION_TOKEN", false},        // Notion's own name
	{"TRACKPLAN_NOTION_URL", "TRACKPLAN_NOTION_BASE_URL", true},
	{"TRACKPLAN_NOTION_PROPERTIES_DB", "TRACKPLAN_NOTION_PROPERTIES_DATABASE", true},
	{"TRACKPLAN_ADD_UNPLANNED", "TRACKPLAN_NOTION_ADD_UNPLANNED", true},
}

// ignoredKeys are read but no longer used; setting one warns.
var ignoredKeys = map[string]string{
	"drift.required_missing_rate": "REQUIRED_MISSING is reported for every message that lacks a required property",
	"drift.required_missing_min":  "REQUIRED_MISSING is reported for every message that lacks a required property",
}

// applyEnv sets every key whose variable (or an alias of it) is set, over
// cfg. Variables in flagVars are read by a flag of the command and reach
// the config through that flag (configFlags), so they are left to it. It
// returns, for each key it set, the variable it was read from.
func applyEnv(cfg *Config, lookup func(string) (string, bool), flagVars map[string]bool, log *slog.Logger) (map[string]string, error) {
	keys, _ := configEnv()
	from := map[string]string{}
	var problems []string
	for _, a := range envAliases {
		if _, ok := lookup(a.Old); ok && a.Deprecated {
			log.Warn(fmt.Sprintf("config: %s is deprecated and goes in a later release: use %s", a.Old, a.New),
				"variable", a.Old, "use", a.New)
		}
	}
	for _, k := range keys {
		names := []string{k.Var}
		for _, a := range envAliases {
			if a.New == k.Var {
				names = append(names, a.Old)
			}
		}
		for i, name := range names {
			value, ok := lookup(name)
			if !ok || value == "" && (i > 0 || k.Type == "secret") {
				continue // an empty alias or secret is unset, as it always was
			}
			if flagVars[name] {
				break // the flag that reads it sets the key
			}
			if err := k.set(cfg, value); err != nil {
				problems = append(problems, fmt.Sprintf("%s (%s): %v", name, k.Key, err))
			} else {
				from[k.Key] = name
			}
			break
		}
	}
	if len(problems) > 0 {
		return from, usage("environment: %s", strings.Join(problems, "; "))
	}
	for _, key := range slices.Sorted(maps.Keys(ignoredKeys)) {
		if name, ok := from[key]; ok {
			log.Warn(fmt.Sprintf("config: %s (%s) is ignored: %s", name, key, ignoredKeys[key]))
		}
	}
	return from, nil
}

// configFlag is a flag that sets a config key. It reads the key's
// variable, so the flag and the key share one name in the environment.
type configFlag struct {
	Command string // "" for a global flag
	Flag    string
	Key     string
	// AfterValidate flags are applied after Validate, unbounded, as they
	// always were (--notion-rate 1000 takes the fake Notion at full speed).
	AfterValidate bool
}

// configFlags lists the flags that override a config key (besides
// --write-key, which sets the sources list).
var configFlags = []configFlag{
	{Flag: "db", Key: "db"},
	{Flag: "plan", Key: "plan"},
	{Flag: "notion-url", Key: "notion.base_url"},
	{Flag: "notion-properties-db", Key: "notion.properties_database"},
	{Flag: "notion-rate", Key: "notion.rate", AfterValidate: true},
	{Command: "serve", Flag: "listen", Key: "listen"},
	{Command: "demo", Flag: "listen", Key: "listen"},
	{Command: "serve", Flag: "webhook-source", Key: "webhook.source"},
	{Command: "serve", Flag: "webhook-secret", Key: "webhook.secret"},
	{Command: "push", Flag: "endpoint", Key: "push.endpoint"},
	{Command: "sync", Flag: "add-unplanned", Key: "notion.add_unplanned"},
	{Command: "drift", Flag: "since", Key: "drift.window"},
}

// applyFlags sets the keys of the flags that are set (on the command line
// or by their variable) over cfg; late selects the AfterValidate ones.
func applyFlags(c *cli.Context, cfg *Config, late bool, from map[string]string) error {
	var problems []string
	for _, f := range configFlags {
		if f.AfterValidate != late || (f.Command != "" && (c.Command == nil || c.Command.Name != f.Command)) || !c.IsSet(f.Flag) {
			continue
		}
		k, ok := envKeyByKey(f.Key)
		if !ok {
			return fmt.Errorf("flag --%s sets %s, which is no config key", f.Flag, f.Key) // a bug: TestConfigFlags
		}
		value := fmt.Sprint(c.Value(f.Flag))
		origin := "--" + f.Flag
		if name, ok := flagVarSet(c, f.Flag, value); ok {
			origin = name
			if value == "" && k.Type == "secret" {
				continue // an empty secret variable is unset, as in applyEnv
			}
		}
		if err := k.set(cfg, value); err != nil {
			problems = append(problems, fmt.Sprintf("%s (%s): %v", origin, k.Key, err))
			continue
		}
		if late && k.Key == "notion.rate" && cfg.Notion.Rate <= 0 {
			problems = append(problems, fmt.Sprintf("%s (%s): must be positive", origin, k.Key))
		}
		from[k.Key] = origin
	}
	if len(problems) > 0 {
		return usage("%s", strings.Join(problems, "; "))
	}
	return nil
}

// flagVarSet returns the variable a set flag took value from, if any: the
// first of its variables that is set, when the flag holds its value.
func flagVarSet(c *cli.Context, flag, value string) (string, bool) {
	for _, ctx := range c.Lineage() {
		for _, f := range contextFlags(ctx) {
			if !slices.Contains(f.Names(), flag) {
				continue
			}
			for _, name := range flagEnvVars(f) {
				if v, ok := os.LookupEnv(name); ok {
					return name, v == value
				}
			}
			return "", false
		}
	}
	return "", false
}

// contextFlags are the flags defined at one level of the command line.
func contextFlags(ctx *cli.Context) []cli.Flag {
	if ctx.Command != nil && ctx.Command.Name != "" {
		return ctx.Command.Flags
	}
	if ctx.App != nil {
		return ctx.App.Flags
	}
	return nil
}

// flagEnvVars returns the variables a flag reads.
func flagEnvVars(f cli.Flag) []string {
	if ef, ok := f.(interface{ GetEnvVars() []string }); ok {
		return ef.GetEnvVars()
	}
	return nil
}

// contextFlagVars returns the variables the flags of a command and of the
// commands above it read.
func contextFlagVars(c *cli.Context) map[string]bool {
	vars := map[string]bool{}
	for _, ctx := range c.Lineage() {
		for _, f := range contextFlags(ctx) {
			for _, name := range flagEnvVars(f) {
				vars[strings.TrimSpace(name)] = true
			}
		}
		if ctx.App != nil {
			for _, f := range ctx.App.Flags {
				for _, name := range flagEnvVars(f) {
					vars[strings.TrimSpace(name)] = true
				}
			}
		}
	}
	return vars
}

// warnUnreadVars warns about TRACKPLAN_<FLAG> variables of the command's
// flags that nothing reads: flags that shape the output (--format, --top,
// --accounts…) take the command line only, and a variable left over from
// when every flag read one would otherwise be ignored in silence.
func warnUnreadVars(c *cli.Context, flagVars map[string]bool, log *slog.Logger) {
	for _, ctx := range c.Lineage() {
		if ctx.Command == nil || ctx.Command.Name == "" {
			continue
		}
		for _, f := range ctx.Command.Flags {
			flag := f.Names()[0]
			name := envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
			if _, ok := os.LookupEnv(name); !ok || len(flagEnvVars(f)) > 0 || flagVars[name] || isConfigVar(name) {
				continue // unset, or the flag reads a variable of its own
			}
			log.Warn(fmt.Sprintf("%s is set but not read: --%s of %s reads no variable; give it on the command line", name, flag, ctx.Command.Name),
				"variable", name)
		}
	}
}

// isConfigVar reports whether name is a key's variable or an alias of one.
func isConfigVar(name string) bool {
	if _, ok := envKeyByVar(name); ok {
		return true
	}
	return slices.ContainsFunc(envAliases, func(a envAlias) bool { return a.Old == name })
}

// nameOrigins adds, to each problem of a validation error about a key set
// by the environment or a flag, where the value came from.
func nameOrigins(err error, from map[string]string) error {
	var v *trackplan.ValidationError
	if !errors.As(err, &v) {
		return err
	}
	for i, p := range v.Problems {
		if origin, ok := from[p.Field]; ok {
			v.Problems[i].Field = p.Field + " (from " + origin + ")"
		}
	}
	return err
}

// writeEnvTable prints the variables, the keys they set and their types,
// then the keys without one and the other names that are read.
func writeEnvTable(w io.Writer) error {
	keys, skipped := configEnv()
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tKEY\tTYPE\tFLAG")
	for _, k := range keys {
		var flags []string
		for _, f := range configFlags {
			if f.Key == k.Key {
				flags = append(flags, strings.TrimSpace(f.Command+" --"+f.Flag))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Var, k.Key, k.Type, cmp.Or(strings.Join(slices.Compact(flags), ", "), "-"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nkeys without a variable:")
	for _, s := range skipped {
		fmt.Fprintf(w, "  %s: %s\n", s.Key, s.Why)
	}
	fmt.Fprintln(w, "\nother names:")
	for _, a := range envAliases {
		note := "also read"
		if a.Deprecated {
			note = "deprecated, warns"
		}
		fmt.Fprintf(w, "  %s → %s (%s)\n", a.Old, a.New, note)
	}
	return nil
}
