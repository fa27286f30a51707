package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseFlags fills a command's flag set from, in order of precedence: the
// command line, RINGHOOK_<FLAG> environment variables (flag name upper-cased,
// dashes as underscores), and the YAML file named by --config, whose keys
// are the flag names. Flags left unset by all three keep their defaults.
// fs must not define "config" itself.
func parseFlags(fs *flag.FlagSet, args []string) error {
	configPath := fs.String("config", "", "YAML config `file`; its keys are flag names (flags and RINGHOOK_* variables take precedence)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; flags go before it, and this command takes no positional arguments", fs.Arg(0))
	}

	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	for _, name := range flagNames(fs) {
		if set[name] || name == "config" {
			continue
		}
		env := envName(name)
		if value, ok := os.LookupEnv(env); ok {
			if err := fs.Set(name, value); err != nil {
				return fmt.Errorf("invalid %s=%q: %w", env, value, err)
			}
			set[name] = true
		}
	}

	if *configPath == "" {
		return nil
	}
	values, err := readConfigFile(*configPath)
	if err != nil {
		return err
	}
	for _, key := range sortedKeys(values) {
		if key == "config" {
			return fmt.Errorf("config file %s: key \"config\" is not allowed there", *configPath)
		}
		if fs.Lookup(key) == nil {
			return fmt.Errorf("config file %s: unknown setting %q; run with -h for the list of settings", *configPath, key)
		}
		if set[key] {
			continue
		}
		if err := fs.Set(key, values[key]); err != nil {
			return fmt.Errorf("config file %s: invalid %s %q: %w", *configPath, key, values[key], err)
		}
	}
	return nil
}

// readConfigFile reads a flat YAML mapping of flag names to scalar values
// or lists of scalars; a list becomes a comma-separated value.
func readConfigFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("config file %s is not valid YAML: %w", path, err)
	}
	values := make(map[string]string, len(raw))
	for key, v := range raw {
		s, err := scalarString(v)
		if err != nil {
			return nil, fmt.Errorf("config file %s: setting %q: %w", path, key, err)
		}
		values[key] = s
	}
	return values, nil
}

func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool, int, int64, float64, uint64:
		return fmt.Sprint(x), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, item := range x {
			s, err := scalarString(item)
			if err != nil {
				return "", err
			}
			if strings.Contains(s, ",") {
				return "", errors.New("a list item must not contain a comma")
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	default:
		return "", fmt.Errorf("must be a string, number, boolean or list, not %T", v)
	}
}

func envName(flagName string) string {
	return "RINGHOOK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func flagNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
