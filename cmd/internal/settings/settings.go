// Package settings turns a table of configuration keys into flags,
// environment variables and YAML file keys, and merges them with the
// precedence flag > environment > file > default. Both oauthd and the
// example sms-api use it, so their configuration behaves the same.
package settings

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Setting is one configuration key.
type Setting struct {
	Key     string // dotted key path, as in the YAML file: "http.addr"
	Default any    // string, bool, int or time.Duration
	Usage   string
}

// Set is a program's settings and the prefix of its environment variables.
type Set struct {
	EnvPrefix string // "OAUTHD"
	List      []Setting
}

// Env is the variable that sets key: the prefix, '_', and the key
// upper-cased with '.' as '_' (http.addr → OAUTHD_HTTP_ADDR).
func (s Set) Env(key string) string {
	return s.EnvPrefix + "_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// Environ is a process's environment, as os.Environ gives it:
// "NAME=value" strings. The programs take it whole, not as a getenv, so
// that they can name the variables of theirs that set nothing
// (UnknownEnv).
type Environ []string

// Getenv is os.Getenv over e: the value of the first NAME=, "" if none.
func (e Environ) Getenv(name string) string {
	for _, kv := range e {
		if len(kv) > len(name) && kv[len(name)] == '=' && kv[:len(name)] == name {
			return kv[len(name)+1:]
		}
	}
	return ""
}

// UnknownVar is a variable of the set's prefix that sets nothing, and the
// one it most likely meant ("" when none is close).
type UnknownVar struct{ Name, Near string }

// UnknownEnv names the variables of env that start with the set's prefix
// and '_' but are none of its settings', nor <prefix>_CONFIG, nor one of
// also (variables read elsewhere, such as another command's), sorted. Such
// a variable is most often a misspelt one, OAUTHD_REDIS_ULR for
// OAUTHD_REDIS_URL, which would otherwise leave its setting at the
// default without a word; Keycloak warns of its unknown KC_ variables the
// same way. The environment is shared with whatever else runs in it, so
// the programs warn rather than refuse.
func (s Set) UnknownEnv(env Environ, also ...string) []UnknownVar {
	known := map[string]bool{s.EnvPrefix + "_CONFIG": true}
	for _, st := range s.List {
		known[s.Env(st.Key)] = true
	}
	for _, a := range also {
		known[a] = true
	}
	names := slices.Sorted(maps.Keys(known))
	var out []UnknownVar
	seen := map[string]bool{}
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, s.EnvPrefix+"_") || known[name] || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, UnknownVar{Name: name, Near: Nearest(name, names)})
	}
	slices.SortFunc(out, func(a, b UnknownVar) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// WarnUnknownEnv logs a warning for each of UnknownEnv's variables, by
// name only: a value may be a secret. help is the command whose --help
// names each setting's variable.
func (s Set) WarnUnknownEnv(log *slog.Logger, env Environ, help string, also ...string) {
	for _, u := range s.UnknownEnv(env, also...) {
		args := []any{"variable", u.Name}
		if u.Near != "" {
			args = append(args, "did_you_mean", u.Near)
		}
		log.Warn("environment variable sets nothing and is ignored; '"+help+" --help' names each setting's variable", args...)
	}
}

// FlagError is a cobra FlagErrorFunc: an unknown flag is named with the
// command and, when one of the command's flags is close, the flag it most
// likely meant (pflag's own message names neither).
func FlagError(cmd *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	if !errors.As(err, &ne) || ne.GetSpecifiedName() == "" || ne.GetSpecifiedShortnames() != "" {
		return err // a shorthand, -Z: pflag names it, and no name is near
	}
	var names []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	})
	msg := fmt.Sprintf("unknown flag --%s for '%s'", ne.GetSpecifiedName(), cmd.CommandPath())
	if near := Nearest(ne.GetSpecifiedName(), names); near != "" {
		msg += "; did you mean --" + near + "?"
	}
	return fmt.Errorf("%s (run '%s --help' for its flags)", msg, cmd.CommandPath())
}

// Flag is key's command-line flag: '.' and '_' become '-'.
func Flag(key string) string { return strings.NewReplacer(".", "-", "_", "-").Replace(key) }

// Has reports whether key is in the set.
func (s Set) Has(key string) bool {
	for _, st := range s.List {
		if st.Key == key {
			return true
		}
	}
	return false
}

// AddFlags registers --config and one flag per setting, each naming its
// environment variable and file key in its usage.
func (s Set) AddFlags(fs *pflag.FlagSet) {
	fs.String("config", "", fmt.Sprintf("YAML configuration file with the file keys listed here (env %s_CONFIG)", s.EnvPrefix))
	for _, st := range s.List {
		usage := fmt.Sprintf("%s (env %s, file key %s)", st.Usage, s.Env(st.Key), st.Key)
		switch d := st.Default.(type) {
		case string:
			fs.String(Flag(st.Key), d, usage)
		case time.Duration:
			fs.Duration(Flag(st.Key), d, usage)
		case bool:
			fs.Bool(Flag(st.Key), d, usage)
		case int:
			fs.Int(Flag(st.Key), d, usage)
		default:
			panic(fmt.Sprintf("settings: key %s has a default of unsupported type %T", st.Key, d))
		}
	}
}

// File is the configuration file Load reads: --config, or the
// environment's <prefix>_CONFIG; "" for none.
func (s Set) File(fs *pflag.FlagSet, getenv func(string) string) string {
	path, _ := fs.GetString("config")
	if !fs.Changed("config") && getenv(s.EnvPrefix+"_CONFIG") != "" {
		path = getenv(s.EnvPrefix + "_CONFIG")
	}
	return path
}

// Load merges flags over the environment (read through getenv) over the
// file over defaults and decodes the result into out (a pointer to a
// struct with mapstructure tags). A key in the file that out does not
// know is an error: a misspelt key must not be silently ignored.
func (s Set) Load(fs *pflag.FlagSet, getenv func(string) string, out any) error {
	v := viper.New()
	for _, st := range s.List {
		v.SetDefault(st.Key, st.Default)
		if f := fs.Lookup(Flag(st.Key)); f != nil && f.Changed {
			v.Set(st.Key, f.Value.String())
		} else if e := getenv(s.Env(st.Key)); e != "" {
			v.Set(st.Key, e)
		}
	}
	if path := s.File(fs, getenv); path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("config file %s: %w", path, err)
		}
	}
	if err := s.unknownKeys(v.AllKeys(), fileKeys(reflect.TypeOf(out), "", map[string]bool{})); err != nil {
		return fmt.Errorf("config file %s: %w", s.File(fs, getenv), err)
	}
	for _, st := range s.List {
		if f := fs.Lookup(Flag(st.Key)); f != nil && f.Changed {
			continue // pflag parsed it already, and said what was wrong
		}
		// A YAML list for a string setting (only the file can give one:
		// flags and the environment override it with strings) is its
		// comma-separated form, as http.trusted_proxies or
		// redis.cluster.addrs take it; a setting of one value then
		// refuses the joined string itself.
		if list, ok := v.Get(st.Key).([]any); ok {
			if _, str := st.Default.(string); str {
				joined, err := joinList(list)
				if err != nil {
					return fmt.Errorf("config %s (file key %s): %w", st.Key, st.Key, err)
				}
				v.Set(st.Key, joined)
			}
		}
		if err := checkValue(st.Default, v.Get(st.Key)); err != nil {
			from := "file key " + st.Key
			if getenv(s.Env(st.Key)) != "" {
				from = s.Env(st.Key)
			}
			return fmt.Errorf("config %s (%s): %w", st.Key, from, err)
		}
	}
	if err := v.UnmarshalExact(out); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// unknownKeys refuses keys (of the file: the others come from the set)
// that the decoding target does not take (known, fileKeys': every
// setting's key is one of them, since the target must decode each), each
// with the setting it most likely meant. The
// decoder would refuse them too, but naming Go types ("'main.Config' has
// invalid keys: htp").
func (s Set) unknownKeys(keys []string, known map[string]bool) error {
	var bad []string
	for _, k := range keys {
		if known[k] || underKnown(k, known) {
			continue
		}
		msg := k
		if near := s.nearest(k); near != "" {
			msg += " (did you mean " + near + "?)"
		}
		bad = append(bad, msg)
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	return fmt.Errorf("unknown key(s) %s; --help lists the file keys", strings.Join(bad, ", "))
}

// fileKeys adds to known the keys the decoding target t (a struct, or a
// pointer to one) takes: the settings' and those the file alone can give
// (oauthd's scope catalogue). They are its mapstructure names, dotted,
// squashed structs merged into their parent.
func fileKeys(t reflect.Type, prefix string, known map[string]bool) map[string]bool {
	t = derefType(t)
	if t == nil || t.Kind() != reflect.Struct {
		return known
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if opts == "squash" {
			fileKeys(f.Type, prefix, known)
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		key := prefix + strings.ToLower(name)
		known[key] = true
		if ft := derefType(f.Type); ft.Kind() == reflect.Struct {
			fileKeys(ft, key+".", known)
		}
	}
	return known
}

func derefType(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// underKnown reports whether k lies inside a key of known that is not a
// struct of known keys itself: a map or a list of objects, whose members
// the decoder checks, or a setting of one value given an object, which
// checkValue names ("an object where a string goes").
func underKnown(k string, known map[string]bool) bool {
	for i := strings.LastIndexByte(k, '.'); i > 0; i = strings.LastIndexByte(k[:i], '.') {
		if known[k[:i]] {
			// A struct's own keys are in known too: k would be there.
			return !hasPrefixKey(known, k[:i]+".")
		}
	}
	return false
}

func hasPrefixKey(known map[string]bool, prefix string) bool {
	for k := range known {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// nearest is the setting's key closest to k (Nearest).
func (s Set) nearest(k string) string {
	keys := make([]string, len(s.List))
	for i, st := range s.List {
		keys[i] = st.Key
	}
	return Nearest(k, keys)
}

// Nearest is the candidate closest to k by edit distance, the first of
// those as close, if it is close enough to be a misspelling of it (within
// a third of k's length); "" if none is.
func Nearest(k string, candidates []string) string {
	best, bestD := "", len(k)/3+1
	for _, c := range candidates {
		if d := editDistance(k, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// joinList is a YAML list of plain values, comma-separated.
func joinList(list []any) (string, error) {
	parts := make([]string, len(list))
	for i, x := range list {
		switch x.(type) {
		case string, int, int64, uint64, float64, bool:
			parts[i] = fmt.Sprint(x)
		default:
			return "", fmt.Errorf("item %d of the list is not a plain value: write strings, such as - 10.0.0.0/8", i+1)
		}
	}
	return strings.Join(parts, ","), nil
}

// checkValue reports whether value, as the environment or the file gave
// it, is one of the type of the setting's default, saying what to write
// if not. Decoding would refuse most bad values too, but in words that
// name neither the variable nor the value ("time: invalid duration"), and
// would take a YAML number for a duration as nanoseconds: "cache_ttl:
// 300" would mean 300ns.
func checkValue(def, value any) error {
	switch def.(type) {
	case time.Duration:
		switch x := value.(type) {
		case time.Duration:
		case string:
			if _, err := time.ParseDuration(x); err != nil {
				return fmt.Errorf("%q is not a duration: write one such as 30s, 5m or 1h30m", x)
			}
		case int, int64, uint64, float64:
			// 0 needs no unit (time.ParseDuration takes "0" too).
			if fmt.Sprint(x) != "0" {
				return fmt.Errorf("%v has no unit: write a duration such as %vs, 5m or 1h", x, x)
			}
		default:
			return fmt.Errorf("%v is not a duration: write one such as 30s, 5m or 1h30m", x)
		}
	case bool:
		switch x := value.(type) {
		case bool:
		case string:
			if _, err := strconv.ParseBool(x); err != nil {
				return fmt.Errorf("%q is not true or false", x)
			}
		default:
			return fmt.Errorf("%v is not true or false", x)
		}
	case string:
		if _, ok := value.(map[string]any); ok {
			return errors.New("an object where a string goes: check the file's indentation")
		}
	case int:
		switch x := value.(type) {
		case int, int64, uint64:
		case string:
			if _, err := strconv.Atoi(x); err != nil {
				return fmt.Errorf("%q is not a whole number", x)
			}
		case float64:
			if x != math.Trunc(x) {
				return fmt.Errorf("%v is not a whole number", x)
			}
		default:
			return fmt.Errorf("%v is not a whole number", x)
		}
	}
	return nil
}

// PlainBools shows every boolean flag of fs as a plain switch in help
// ("--json"), where pflag writes "--json[=true|false]" for each; they
// parse as before: --json, --json=false. Call it once all flags are
// defined, cobra's --help and --version included.
func PlainBools(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if _, done := f.Value.(plainBool); done || f.Value.Type() != "bool" {
			return
		}
		f.Value = plainBool{f.Value}
		f.NoOptDefVal = "true" // what makes a bare --json mean true
	})
}

// plainBool is a bool flag's value without the IsBoolFlag method by which
// pflag recognises its own booleans and prints "[=true|false]".
type plainBool struct{ pflag.Value }
