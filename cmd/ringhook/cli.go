package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ringhook/ringhook/hub/adminclient"
)

// defaultHubURL is where the CLI looks for a hub when neither --hub nor
// RINGHOOK_HUB is set: the address of `ringhook dev`'s first node.
const defaultHubURL = "http://127.0.0.1:8080"

// cliContext carries what every admin subcommand needs.
type cliContext struct {
	client *adminclient.Client
	output string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// cliCommand is an admin subcommand: it defines its own flags on fs and
// then runs with the positional arguments.
type cliCommand struct {
	usage   string
	flags   func(fs *flag.FlagSet)
	minArgs int
	maxArgs int
	run     func(ctx context.Context, c *cliContext, args []string) error
}

// registerCLI registers an admin subcommand with the common flags --hub,
// --token and -o.
func registerCLI(name, summary string, cmd cliCommand) {
	register(name, summary, func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
		return runCLI(ctx, name, cmd, args, stdin, stdout, stderr)
	})
}

func runCLI(ctx context.Context, name string, cmd cliCommand, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ringhook "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	hub := fs.String("hub", "", "hub `URL` (default $RINGHOOK_HUB, else "+defaultHubURL+")")
	token := fs.String("token", "", "admin `token` (default $RINGHOOK_TOKEN)")
	output := fs.String("o", "table", "output `format`: table or json")
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ringhook %s %s\n\n%s.\n\nFlags:\n", name, cmd.usage, commands[name].summary)
		fs.PrintDefaults()
	}

	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(positional) < cmd.minArgs || (cmd.maxArgs >= 0 && len(positional) > cmd.maxArgs) {
		fmt.Fprintf(stderr, "ringhook %s: wrong number of arguments\nUsage: ringhook %s %s\n", name, name, cmd.usage)
		return 2
	}
	if *output != "table" && *output != "json" {
		fmt.Fprintf(stderr, "ringhook %s: invalid -o %q: use table or json\n", name, *output)
		return 2
	}

	hubURL := firstNonEmpty(*hub, os.Getenv("RINGHOOK_HUB"), defaultHubURL)
	tokenValue := firstNonEmpty(*token, os.Getenv("RINGHOOK_TOKEN"))
	c := &cliContext{
		client: adminclient.New(hubURL, tokenValue),
		output: *output,
		stdin:  stdin,
		stdout: stdout,
		stderr: stderr,
	}
	if err := cmd.run(ctx, c, positional); err != nil {
		// Errors can quote the hub's messages, and those quote values a
		// webhook sender chose: sanitize them like any other output.
		c.errorf("ringhook %s: %s\n", name, err)
		var apiErr *adminclient.APIError
		var urlErr *url.Error
		switch {
		case errors.As(err, &apiErr) && apiErr.Status == 401:
			fmt.Fprintln(stderr, "Set an admin token with --token or RINGHOOK_TOKEN.")
		case errors.As(err, &urlErr):
			fmt.Fprintf(stderr, "Point the CLI at a running hub node with --hub or RINGHOOK_HUB (now %s).\n", sanitize(hubURL))
		}
		return 1
	}
	return 0
}

// parseInterspersed parses flags that may stand before, between or after
// positional arguments, and returns the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// printJSON writes v as indented JSON, with the characters a terminal
// could obey escaped (see escapeJSONText).
func (c *cliContext) printJSON(v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the output as JSON: %w", err)
	}
	data = append(escapeJSONText(data), '\n')
	_, err = c.stdout.Write(data)
	return err
}

// printTable writes rows under a header, aligned in columns, with every
// cell sanitized. A nil header prints the rows alone.
func (c *cliContext) printTable(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	if header != nil {
		fmt.Fprintln(tw, strings.Join(sanitizeRow(header), "\t"))
	}
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(sanitizeRow(row), "\t"))
	}
	return tw.Flush()
}

func sanitizeRow(row []string) []string {
	out := make([]string, len(row))
	for i, cell := range row {
		out[i] = sanitize(cell)
	}
	return out
}

// printResult writes v as JSON with -o json, else calls table.
func (c *cliContext) printResult(v any, table func() error) error {
	if c.output == "json" {
		return c.printJSON(v)
	}
	return table()
}
