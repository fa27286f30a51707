package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

func init() {
	var orgFilter string
	registerCLI("get", "list objects of a kind, or show one: ringhook get KIND [ID]", cliCommand{
		usage: "KIND [ID] [--org ORG_ID]\n\nKinds: " + strings.Join(kindNames(), ", "),
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&orgFilter, "org", "", "list only objects of this organization `id`")
		},
		minArgs: 1, maxArgs: 2,
		run: func(ctx context.Context, c *cliContext, args []string) error {
			return runGet(ctx, c, args, orgFilter)
		},
	})
	registerCLI("delete", "delete one object: ringhook delete KIND ID", cliCommand{
		usage:   "KIND ID\n\nKinds: " + strings.Join(kindNames(), ", "),
		minArgs: 2, maxArgs: 2,
		run: runDelete,
	})
}

// objectKind is a kind of object of the admin API, with its table columns.
type objectKind struct {
	path    string
	columns []column
}

// column is one table column: a header and how to read its cell from an
// object decoded as a JSON map.
type column struct {
	header string
	cell   func(obj map[string]any) string
}

func field(name string) column {
	return column{header: strings.ToUpper(strings.ReplaceAll(name, "_", " ")), cell: func(o map[string]any) string { return text(o[name]) }}
}

func computed(header string, cell func(map[string]any) string) column {
	return column{header: header, cell: cell}
}

var objectKinds = map[string]objectKind{
	"organizations": {path: "organizations", columns: []column{
		field("id"), field("name"), field("primary_member_id"),
		computed("DAILY CAP", func(o map[string]any) string { return text(nested(o, "brakes", "daily_call_cap")) }),
	}},
	"members": {path: "members", columns: []column{
		field("id"), field("org_id"), field("name"), field("phone"),
		computed("CONSENT", func(o map[string]any) string {
			if o["consent"] == nil {
				return "missing"
			}
			return "by " + text(nested(o, "consent", "confirmed_by"))
		}),
		computed("PROJECTS", func(o map[string]any) string { return count(o["project_ids"]) }),
	}},
	"projects": {path: "projects", columns: []column{field("id"), field("org_id"), field("name")}},
	"schedules": {path: "schedules", columns: []column{
		field("id"), field("org_id"), field("name"), field("time_zone"),
		computed("ROTATIONS", func(o map[string]any) string { return count(o["rotations"]) }),
		computed("OVERRIDES", func(o map[string]any) string { return count(o["overrides"]) }),
	}},
	"scenarios": {path: "scenarios", columns: []column{
		field("id"), field("org_id"), field("name"),
		computed("RULES", func(o map[string]any) string { return count(o["rules"]) }),
		computed("DEFAULT", func(o map[string]any) string {
			return firstNonEmpty(text(nested(o, "default", "type")), "call_primary")
		}),
	}},
	"endpoints": {path: "endpoints", columns: []column{
		field("id"), field("org_id"), field("name"), field("scenario_id"),
		computed("ALERT KEY", func(o map[string]any) string { return yesNo(o["alert_key_required"] == true) }),
		field("webhook_url"),
	}},
	"agents": {path: "agents", columns: []column{
		field("id"), field("name"), field("trunk"),
		computed("CONNECTED", func(o map[string]any) string { return healthCell(o, "connected") }),
		computed("HEALTHY", func(o map[string]any) string { return healthCell(o, "healthy") }),
		computed("DETAIL", func(o map[string]any) string { return text(nested(o, "health", "detail")) }),
	}},
	"tokens": {path: "tokens", columns: []column{field("id"), field("name"), field("created_at")}},
}

// kindAliases maps singular and short names to a kind.
var kindAliases = map[string]string{
	"organization": "organizations", "org": "organizations", "orgs": "organizations",
	"member": "members", "project": "projects", "schedule": "schedules",
	"scenario": "scenarios", "endpoint": "endpoints", "agent": "agents",
	"token": "tokens",
}

func kindNames() []string {
	names := make([]string, 0, len(objectKinds))
	for name := range objectKinds {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func lookupKind(name string) (objectKind, error) {
	name = strings.ToLower(name)
	if alias, ok := kindAliases[name]; ok {
		name = alias
	}
	kind, ok := objectKinds[name]
	if !ok {
		return objectKind{}, fmt.Errorf("unknown kind %q; use one of %s", name, strings.Join(kindNames(), ", "))
	}
	return kind, nil
}

func runGet(ctx context.Context, c *cliContext, args []string, orgFilter string) error {
	kind, err := lookupKind(args[0])
	if err != nil {
		return err
	}
	if len(args) == 2 {
		var obj map[string]any
		if err := c.client.Do(ctx, "GET", "/api/v1/"+kind.path+"/"+url.PathEscape(args[1]), nil, nil, &obj); err != nil {
			return err
		}
		// One object has nested fields a table cannot show: print it whole.
		return c.printJSON(obj)
	}

	query := url.Values{}
	if orgFilter != "" {
		query.Set("org_id", orgFilter)
	}
	if kind.path == "agents" {
		return listAgents(ctx, c, query)
	}
	var list []map[string]any
	if err := c.client.List(ctx, "/api/v1/"+kind.path, query, &list); err != nil {
		return err
	}
	return c.printResult(list, func() error { return c.printObjects(kind, list) })
}

func (c *cliContext) printObjects(kind objectKind, list []map[string]any) error {
	header := make([]string, len(kind.columns))
	for i, col := range kind.columns {
		header[i] = col.header
	}
	rows := make([][]string, 0, len(list))
	for _, obj := range list {
		row := make([]string, len(kind.columns))
		for i, col := range kind.columns {
			row[i] = col.cell(obj)
		}
		rows = append(rows, row)
	}
	return c.printTable(header, rows)
}

func runDelete(ctx context.Context, c *cliContext, args []string) error {
	kind, err := lookupKind(args[0])
	if err != nil {
		return err
	}
	if err := c.client.Do(ctx, "DELETE", "/api/v1/"+kind.path+"/"+url.PathEscape(args[1]), nil, nil, nil); err != nil {
		return err
	}
	c.printf("deleted %s %s\n", strings.TrimSuffix(kind.path, "s"), args[1])
	return nil
}

// nested reads obj[a][b]... from a decoded JSON object, or nil.
func nested(obj map[string]any, keys ...string) any {
	var cur any = obj
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// text renders a decoded JSON value for a table cell.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case string:
		if x == "" {
			return "-"
		}
		return x
	case float64:
		return fmt.Sprint(x)
	case bool:
		return yesNo(x)
	default:
		data, _ := json.Marshal(x)
		return string(data)
	}
}

func count(v any) string {
	list, _ := v.([]any)
	return fmt.Sprint(len(list))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
