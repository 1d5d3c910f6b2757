package settings

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type testConfig struct {
	TTL   time.Duration `mapstructure:"ttl"`
	Cache testCache     `mapstructure:"cache"`
	Name  string        `mapstructure:"name"`
	// Proxies is comma-separated.
	Proxies string `mapstructure:"proxies"`
	// Items only the file gives (no setting has them): a list of
	// objects, as oauthd's scope catalogue.
	Items []testItem `mapstructure:"items"`
}

type testItem struct {
	Name string `mapstructure:"name"`
}

type testCache struct {
	Size int  `mapstructure:"size"`
	On   bool `mapstructure:"on"`
}

var testSet = Set{EnvPrefix: "T", List: []Setting{
	{Key: "ttl", Default: 5 * time.Second},
	{Key: "proxies", Default: ""},
	{Key: "cache.size", Default: 100},
	{Key: "cache.on", Default: true},
	{Key: "name", Default: "x"},
}}

// A value of the wrong type from the environment or the file is refused
// naming the key, where it came from, the value and what to write; a YAML
// number for a duration is refused rather than read as nanoseconds.
func TestLoadValueTypes(t *testing.T) {
	for _, tt := range []struct {
		name    string
		env     map[string]string
		file    string
		args    []string
		want    testConfig
		refusal []string // substrings of the error; nil: no error
	}{
		{name: "good values from env", env: map[string]string{"T_TTL": "1m30s", "T_CACHE_SIZE": "7", "T_CACHE_ON": "false", "T_NAME": "y"},
			want: testConfig{TTL: 90 * time.Second, Name: "y", Cache: testCache{7, false}}},
		{name: "good values from file", file: "ttl: 2m\ncache:\n  size: 9\n  on: true\nname: 12\n",
			want: testConfig{TTL: 2 * time.Minute, Name: "12", Cache: testCache{9, true}}},
		{name: "env duration without a unit", env: map[string]string{"T_TTL": "300"}, refusal: []string{"config ttl (T_TTL)", `"300" is not a duration`, "30s"}},
		{name: "env duration nonsense", env: map[string]string{"T_TTL": "abc"}, refusal: []string{"config ttl (T_TTL)", `"abc" is not a duration`}},
		{name: "file duration as a number", file: "ttl: 300\n", refusal: []string{"config ttl (file key ttl)", "300 has no unit", "300s"}},
		{name: "file duration 0, which needs no unit", file: "ttl: 0\n", want: testConfig{Name: "x", Cache: testCache{100, true}}},
		{name: "file list for a comma-separated string", file: "proxies:\n  - 10.0.0.0/8\n  - 192.168.0.0/16\n",
			want: testConfig{TTL: 5 * time.Second, Name: "x", Cache: testCache{100, true}, Proxies: "10.0.0.0/8,192.168.0.0/16"}},
		{name: "env string over a file list", env: map[string]string{"T_PROXIES": "10.1.0.0/16"}, file: "proxies: [10.0.0.0/8]\n",
			want: testConfig{TTL: 5 * time.Second, Name: "x", Cache: testCache{100, true}, Proxies: "10.1.0.0/16"}},
		{name: "file list of objects", file: "proxies:\n  - cidr: 10.0.0.0/8\n", refusal: []string{"config proxies (file key proxies)", "item 1 of the list is not a plain value"}},
		{name: "file object for a string", file: "name:\n  first: x\n", refusal: []string{"config name (file key name)", "an object where a string goes"}},
		{name: "file keys no setting has", file: "ttll: 5s\ncache:\n  sise: 3\nzzz: 1\n",
			refusal: []string{"unknown key(s) cache.sise (did you mean cache.size?), ttll (did you mean ttl?), zzz;", "--help lists the file keys"}},
		{name: "file key only the file gives", file: "items:\n  - name: a\n  - name: b\n",
			want: testConfig{TTL: 5 * time.Second, Name: "x", Cache: testCache{100, true}, Items: []testItem{{"a"}, {"b"}}}},
		{name: "env bool", env: map[string]string{"T_CACHE_ON": "perhaps"}, refusal: []string{"config cache.on (T_CACHE_ON)", `"perhaps" is not true or false`}},
		{name: "file bool as a list", file: "cache:\n  on: [1]\n", refusal: []string{"config cache.on (file key cache.on)", "not true or false"}},
		{name: "env int", env: map[string]string{"T_CACHE_SIZE": "1.5"}, refusal: []string{"config cache.size (T_CACHE_SIZE)", `"1.5" is not a whole number`}},
		{name: "file int as a fraction", file: "cache:\n  size: 1.5\n", refusal: []string{"config cache.size (file key cache.size)", "1.5 is not a whole number"}},
		{name: "flag wins over a bad env value", env: map[string]string{"T_TTL": "abc"}, args: []string{"--ttl", "3s"},
			want: testConfig{TTL: 3 * time.Second, Name: "x", Cache: testCache{100, true}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = v
			}
			if tt.file != "" {
				path := filepath.Join(t.TempDir(), "c.yaml")
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
				env["T_CONFIG"] = path
			}
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			testSet.AddFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			var got testConfig
			err := testSet.Load(fs, func(k string) string { return env[k] }, &got)
			if tt.refusal == nil {
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("Load = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load = %+v, want a refusal", got)
			}
			for _, w := range tt.refusal {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// UnknownEnv names the variables of the set's prefix that set nothing,
// each with the one it most likely meant; the settings', <prefix>_CONFIG,
// also and variables of other prefixes are left alone.
func TestUnknownEnv(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  Environ
		also []string
		want []UnknownVar
	}{
		{name: "settings and the file's variable", env: Environ{"T_TTL=5s", "T_CACHE_SIZE=3", "T_CONFIG=/etc/t.yaml"}},
		{name: "other programs' variables", env: Environ{"PATH=/bin", "TX_TTL=1", "T=1", "HOME=/root"}},
		{name: "a misspelt one", env: Environ{"T_CACHE_SISE=3", "T_TTL=5s"}, want: []UnknownVar{{"T_CACHE_SISE", "T_CACHE_SIZE"}}},
		{name: "a misspelt file variable", env: Environ{"T_CONFIGG=x"}, want: []UnknownVar{{"T_CONFIGG", "T_CONFIG"}}},
		{name: "nothing near", env: Environ{"T_SOMETHING_ELSE=1"}, want: []UnknownVar{{"T_SOMETHING_ELSE", ""}}},
		{name: "read elsewhere", env: Environ{"T_ADMIN_KEY=k", "T_ADMIN_KEYS=k"}, also: []string{"T_ADMIN_KEY"},
			want: []UnknownVar{{"T_ADMIN_KEYS", "T_ADMIN_KEY"}}},
		{name: "named once, sorted", env: Environ{"T_ZZ=1", "T_TTLL=1", "T_ZZ=2", "T_="}, want: []UnknownVar{{"T_", ""}, {"T_TTLL", "T_TTL"}, {"T_ZZ", ""}}},
		{name: "lower case is another variable", env: Environ{"T_ttl=5s"}, want: []UnknownVar{{"T_ttl", ""}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := testSet.UnknownEnv(tt.env, tt.also...); !slices.Equal(got, tt.want) {
				t.Errorf("UnknownEnv(%q) = %q, want %q", tt.env, got, tt.want)
			}
		})
	}
}

// Environ's Getenv reads NAME=value as os.Getenv does: the whole name, the
// first of two, the value with any '=' in it.
func TestEnvironGetenv(t *testing.T) {
	env := Environ{"T_TTLX=9s", "T_TTL=5s", "T_TTL=6s", "T_URL=redis://h/0?a=b", "T_EMPTY=", "JUNK"}
	for name, want := range map[string]string{"T_TTL": "5s", "T_TT": "", "T_TTLX": "9s", "T_URL": "redis://h/0?a=b", "T_EMPTY": "", "JUNK": "", "": ""} {
		if got := env.Getenv(name); got != want {
			t.Errorf("Getenv(%q) = %q, want %q", name, got, want)
		}
	}
}

// FlagError names the command and the flag an unknown one most likely
// meant; shorthands and flags nothing is near are named without a guess.
func TestFlagError(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string // the whole error
	}{
		{[]string{"sub", "--audiences", "x"}, "unknown flag --audiences for 'prog sub'; did you mean --audience? (run 'prog sub --help' for its flags)"},
		{[]string{"sub", "--redis-ulr=x"}, "unknown flag --redis-ulr for 'prog sub'; did you mean --redis-url? (run 'prog sub --help' for its flags)"},
		{[]string{"sub", "--frobnicate"}, "unknown flag --frobnicate for 'prog sub' (run 'prog sub --help' for its flags)"},
		{[]string{"sub", "--secret-flag"}, "unknown flag --secret-flag for 'prog sub' (run 'prog sub --help' for its flags)"},
		{[]string{"sub", "-Z"}, "unknown shorthand flag: 'Z' in -Z"},
		{[]string{"sub", "--audience"}, "flag needs an argument: --audience"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			root := &cobra.Command{Use: "prog", SilenceErrors: true, SilenceUsage: true}
			root.SetFlagErrorFunc(FlagError)
			sub := &cobra.Command{Use: "sub", RunE: func(*cobra.Command, []string) error { return nil }}
			sub.Flags().StringArray("audience", nil, "")
			sub.Flags().String("redis-url", "", "")
			// Hidden flags are not offered: --secret-flg is not near
			// enough to anything else.
			sub.Flags().String("secret-flg", "", "")
			_ = sub.Flags().MarkHidden("secret-flg")
			root.AddCommand(sub)
			root.SetArgs(tt.args)
			root.SetOut(io.Discard)
			root.SetErr(io.Discard)
			if err := root.Execute(); err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
