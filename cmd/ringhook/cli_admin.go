package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"

	"github.com/ringhook/ringhook/hub/adminclient"
)

func init() {
	registerCLI("agents", "show agents and their health; 'agents create' issues a new agent", cliCommand{
		usage: "[create --name NAME --trunk LABEL]", maxArgs: 1,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&agentCreate.name, "name", "", "name of the new agent (with create)")
			fs.StringVar(&agentCreate.trunk, "trunk", "", "label of the SIP trunk the new agent dials out on (with create)")
		},
		run: runAgents,
	})
	registerCLI("cluster", "show the hub cluster, or remove a failed node", cliCommand{
		usage: "[status | remove NODE_ID]", maxArgs: 2,
		run: runCluster,
	})
	var test endpointTest
	registerCLI("endpoint", "run a payload through an endpoint's routing without placing calls", cliCommand{
		usage:   "test ENDPOINT_ID [--content-type CT] [--query Q] < payload",
		flags:   test.register,
		minArgs: 2, maxArgs: 2,
		run: func(ctx context.Context, c *cliContext, args []string) error {
			return runEndpointTest(ctx, c, args, test)
		},
	})
	var tokenName string
	registerCLI("token", "create an admin token; it is shown once", cliCommand{
		usage:   "create --name NAME",
		flags:   func(fs *flag.FlagSet) { fs.StringVar(&tokenName, "name", "", "what the token is for, e.g. ci-deploy") },
		minArgs: 1, maxArgs: 1,
		run: func(ctx context.Context, c *cliContext, args []string) error {
			return runTokenCreate(ctx, c, args, tokenName)
		},
	})
}

var agentCreate struct{ name, trunk string }

func runAgents(ctx context.Context, c *cliContext, args []string) error {
	if len(args) == 1 {
		if args[0] != "create" {
			return fmt.Errorf("unknown agents subcommand %q; use 'ringhook agents' or 'ringhook agents create'", args[0])
		}
		if agentCreate.name == "" || agentCreate.trunk == "" {
			return fmt.Errorf("agents create needs --name and --trunk, e.g. ringhook agents create --name pbx-1 --trunk trunk-a")
		}
		var created map[string]any
		body := map[string]string{"name": agentCreate.name, "trunk": agentCreate.trunk}
		if err := c.client.Do(ctx, "POST", "/api/v1/agents", nil, body, &created); err != nil {
			return err
		}
		if c.output == "json" {
			return c.printJSON(created)
		}
		c.printf("Created agent %s (%s, trunk %s).\n", text(created["id"]), agentCreate.name, agentCreate.trunk)
		c.printf("Agent token (shown once, store it now):\n\n  %s\n", text(created["token"]))
		return nil
	}
	return runGet(ctx, c, []string{"agents"}, "")
}

// listAgents prints the agents with their health. Only the leader tracks
// agent health, so a follower's list leaves it out and has a note naming
// the leader. listAgents then lists the agents on the leader whose URL
// GET /api/v1/cluster returns, and shows health as unknown when that fails.
func listAgents(ctx context.Context, c *cliContext, query url.Values) error {
	var list []map[string]any
	note, err := c.client.ListNote(ctx, "/api/v1/agents", query, &list)
	if err != nil {
		return err
	}
	if note != "" {
		leaderList, leaderURL, err := listAgentsOnLeader(ctx, c, query)
		if err != nil {
			c.errorf("note from the hub: %s\n", note)
			c.errorf("cannot ask the leader (%s); agent health shows as unknown: run the command again with --hub set to the leader's URL\n", err)
		} else {
			c.errorf("agent health from the leader at %s\n", leaderURL)
			list, note = leaderList, ""
		}
	}
	return c.printResult(list, func() error {
		if note == "" {
			// The leader's list leaves health out for an agent that has
			// no session: that agent is not connected.
			for _, agent := range list {
				if _, ok := agent["health"]; !ok {
					agent["health"] = map[string]any{}
				}
			}
		}
		return c.printObjects(objectKinds["agents"], list)
	})
}

// listAgentsOnLeader lists the agents on the leader that the --hub node
// names, and returns the list and the leader's URL. It never sends the
// token over http when --hub is https.
func listAgentsOnLeader(ctx context.Context, c *cliContext, query url.Values) ([]map[string]any, string, error) {
	var status map[string]any
	if err := c.client.Do(ctx, "GET", "/api/v1/cluster", nil, nil, &status); err != nil {
		return nil, "", fmt.Errorf("read the leader's URL: %w", err)
	}
	found, _ := findKey(status, "leader_url")
	leaderURL, _ := found.(string)
	if leaderURL == "" {
		return nil, "", errors.New("the node knows no leader right now")
	}
	if strings.HasPrefix(c.client.BaseURL, "https:") && !strings.HasPrefix(leaderURL, "https:") {
		return nil, "", fmt.Errorf("the leader's URL %s is not https like --hub", leaderURL)
	}
	leader := adminclient.New(leaderURL, c.client.Token)
	leader.HTTP = c.client.HTTP
	var list []map[string]any
	note, err := leader.ListNote(ctx, "/api/v1/agents", query, &list)
	if err != nil {
		return nil, "", err
	}
	if note != "" {
		return nil, "", fmt.Errorf("%s is not the leader either: %s", leaderURL, note)
	}
	return list, leaderURL, nil
}

// healthCell renders a field of an agent's health: unknown when the list
// has no health for the agent.
func healthCell(agent map[string]any, key string) string {
	health, ok := agent["health"].(map[string]any)
	if !ok {
		return "unknown"
	}
	return yesNo(health[key] == true)
}

func runCluster(ctx context.Context, c *cliContext, args []string) error {
	if len(args) == 0 {
		args = []string{"status"}
	}
	switch args[0] {
	case "status":
		if len(args) != 1 {
			return fmt.Errorf("cluster status takes no argument")
		}
		var status map[string]any
		if err := c.client.Do(ctx, "GET", "/api/v1/cluster", nil, nil, &status); err != nil {
			return err
		}
		if c.output == "json" {
			return c.printJSON(status)
		}
		return printClusterStatus(c, status)
	case "remove":
		if len(args) != 2 {
			return fmt.Errorf("cluster remove needs the node id")
		}
		if err := c.client.Do(ctx, "DELETE", "/api/v1/cluster/nodes/"+url.PathEscape(args[1]), nil, nil, nil); err != nil {
			return err
		}
		c.printf("removed node %s from the Raft configuration\n", args[1])
		return nil
	default:
		return fmt.Errorf("unknown cluster subcommand %q; use status or remove", args[0])
	}
}

// printClusterStatus prints the status response: a summary of the responding
// node, then one row per node when the response lists them.
func printClusterStatus(c *cliContext, status map[string]any) error {
	// The response is cluster.Status: the node's Raft state is "Leader" on the leader.
	c.printf("answered by: %s (leader: %s)\n", text(status["node_id"]), yesNo(status["state"] == "Leader"))
	for _, key := range []string{"state", "ready", "leader_id", "leader_url", "term", "last_log_index", "commit_index", "applied_index"} {
		if v, ok := findKey(status, key); ok {
			c.printf("%-15s %s\n", strings.ReplaceAll(key, "_", " ")+":", text(v))
		}
	}
	nodes, _ := findKey(status, "nodes")
	list, _ := nodes.([]any)
	if len(list) == 0 {
		return nil
	}
	fmt.Fprintln(c.stdout)
	rows := make([][]string, 0, len(list))
	for _, item := range list {
		n, _ := item.(map[string]any)
		rows = append(rows, []string{text(n["id"]), text(n["raft_address"]), text(n["http_url"]), text(n["suffrage"]), text(n["gossip"]), yesNo(n["leader"] == true)})
	}
	return c.printTable([]string{"NODE", "RAFT", "HTTP", "SUFFRAGE", "GOSSIP", "LEADER"}, rows)
}

// findKey looks for key at the top level of a status response and one level
// down, since the response nests the cluster's own status.
func findKey(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for _, v := range m {
		if inner, ok := v.(map[string]any); ok {
			if found, ok := inner[key]; ok {
				return found, true
			}
		}
	}
	return nil, false
}

type endpointTest struct {
	contentType, query, method string
}

func (t *endpointTest) register(fs *flag.FlagSet) {
	fs.StringVar(&t.contentType, "content-type", "application/json", "Content-Type `header` to send with the payload, as the tool would")
	fs.StringVar(&t.query, "query", "", "raw query `string` the tool appends to the URL, without ?")
}

func runEndpointTest(ctx context.Context, c *cliContext, args []string, t endpointTest) error {
	if args[0] != "test" {
		return fmt.Errorf("unknown endpoint subcommand %q; use 'ringhook endpoint test ENDPOINT_ID < payload'", args[0])
	}
	payload, err := readPayload(c.stdin)
	if err != nil {
		return err
	}
	query, err := url.ParseQuery(t.query)
	if err != nil {
		return fmt.Errorf("invalid --query %q: %w", t.query, err)
	}
	var answer json.RawMessage
	path := "/api/v1/endpoints/" + url.PathEscape(args[1]) + "/test"
	if err := c.client.Send(ctx, "POST", path, query, t.contentType, payload, &answer); err != nil {
		return err
	}
	var decoded any
	if err := json.Unmarshal(answer, &decoded); err != nil {
		return fmt.Errorf("decode the hub's response: %w", err)
	}
	return c.printJSON(decoded)
}

func runTokenCreate(ctx context.Context, c *cliContext, args []string, name string) error {
	if args[0] != "create" {
		return fmt.Errorf("unknown token subcommand %q; use 'ringhook token create --name NAME'", args[0])
	}
	if name == "" {
		return fmt.Errorf("token create needs --name, saying what the token is for")
	}
	var created map[string]any
	if err := c.client.Do(ctx, "POST", "/api/v1/tokens", nil, map[string]string{"name": name}, &created); err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(created)
	}
	c.printf("Created admin token %s (%s).\nToken (shown once, store it now):\n\n  %s\n", text(created["id"]), name, text(created["token"]))
	return nil
}
