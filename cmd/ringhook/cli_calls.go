package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/ringhook/ringhook/hub/model"
)

func init() {
	var cf callFilter
	registerCLI("calls", "list calls, newest first; --follow prints calls as they change", cliCommand{
		usage:   "[--endpoint ID] [--phone E164] [--disposition D] [--status S] [--since 1h|RFC3339] [--limit N] [--follow]",
		flags:   cf.register,
		maxArgs: 0,
		run:     func(ctx context.Context, c *cliContext, _ []string) error { return runCalls(ctx, c, cf) },
	})
	registerCLI("call", "show one call with every attempt and its raw ARI data", cliCommand{
		usage: "CALL_ID", minArgs: 1, maxArgs: 1,
		run: runCall,
	})

	var rf requestFilter
	registerCLI("requests", "list incoming webhooks, newest first", cliCommand{
		usage:   "[--endpoint ID] [--org ID] [--outcome O] [--since 1h|RFC3339] [--limit N]",
		flags:   rf.register,
		maxArgs: 0,
		run:     func(ctx context.Context, c *cliContext, _ []string) error { return runRequests(ctx, c, rf) },
	})
}

type callFilter struct {
	endpoint, phone, disposition, status, since string
	limit                                       int
	follow                                      bool
}

func (f *callFilter) register(fs *flag.FlagSet) {
	fs.StringVar(&f.endpoint, "endpoint", "", "only calls of this endpoint `id`")
	fs.StringVar(&f.phone, "phone", "", "only calls to this E.164 `number`")
	fs.StringVar(&f.disposition, "disposition", "", "only calls with this `disposition`: answered, no-answer, busy or failed")
	fs.StringVar(&f.status, "status", "", "only calls in this `status`: queued, assigned, finished or cancelled")
	fs.StringVar(&f.since, "since", "", "only calls queued after this `time`: a duration back from now (1h) or an RFC 3339 time")
	fs.IntVar(&f.limit, "limit", 50, "maximum `number` of calls")
	fs.BoolVar(&f.follow, "follow", false, "keep running and print each call when it is queued and when it finishes")
}

func (f callFilter) query() (url.Values, error) {
	q := url.Values{}
	setIf(q, "endpoint_id", f.endpoint)
	setIf(q, "phone", f.phone)
	setIf(q, "disposition", f.disposition)
	setIf(q, "status", f.status)
	if err := setSinceAndLimit(q, f.since, f.limit); err != nil {
		return nil, err
	}
	return q, nil
}

type requestFilter struct {
	endpoint, org, outcome, since string
	limit                         int
}

func (f *requestFilter) register(fs *flag.FlagSet) {
	fs.StringVar(&f.endpoint, "endpoint", "", "only requests to this endpoint `id`")
	fs.StringVar(&f.org, "org", "", "only requests of this organization `id`")
	fs.StringVar(&f.outcome, "outcome", "", "only requests with this `outcome`: queued, no_call, suppressed, resolved, action_none or no_phones")
	fs.StringVar(&f.since, "since", "", "only requests received after this `time`: a duration back from now (1h) or an RFC 3339 time")
	fs.IntVar(&f.limit, "limit", 50, "maximum `number` of requests")
}

// parseSince reads a duration back from now or an RFC 3339 time.
func parseSince(value string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(value); err == nil {
		return now.Add(-d).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid --since %q: give a duration such as 30m or a time such as 2026-12-04T08:00:00Z", value)
	}
	return t.UTC(), nil
}

func setIf(q url.Values, key, value string) {
	if value != "" {
		q.Set(key, value)
	}
}

// setSinceAndLimit adds the since and limit parameters of a list query,
// reading since as parseSince does. An empty since or a limit below 1
// adds nothing.
func setSinceAndLimit(q url.Values, since string, limit int) error {
	if since != "" {
		t, err := parseSince(since, time.Now())
		if err != nil {
			return err
		}
		q.Set("since", t.Format(time.RFC3339Nano))
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	return nil
}

func runCalls(ctx context.Context, c *cliContext, f callFilter) error {
	query, err := f.query()
	if err != nil {
		return err
	}
	if f.follow {
		return followCallList(ctx, c, query)
	}
	var calls []model.Call
	if err := c.client.List(ctx, "/api/v1/calls", query, &calls); err != nil {
		return err
	}
	return c.printResult(calls, func() error {
		rows := make([][]string, 0, len(calls))
		for _, call := range calls {
			rows = append(rows, callRow(call))
		}
		return c.printTable(callHeader, rows)
	})
}

var callHeader = []string{"CALL", "QUEUED", "PHONE", "STATUS", "DISPOSITION", "ATTEMPTS", "CAUSE", "REASON"}

func callRow(call model.Call) []string {
	cause := "-"
	if n := len(call.Attempts); n > 0 {
		last := call.Attempts[n-1]
		if last.Cause != 0 || last.CauseText != "" {
			cause = fmt.Sprintf("%d %s", last.Cause, last.CauseText)
		}
	}
	return []string{
		call.ID,
		call.QueuedAt.Local().Format("2006-01-02 15:04:05"),
		call.Phone,
		call.Status,
		text(call.Disposition),
		fmt.Sprint(len(call.Attempts)),
		cause,
		text(call.Reason),
	}
}

// followCallList prints calls as they appear and change, polling every
// two seconds until ctx ends. With -o json it prints one JSON object a line.
func followCallList(ctx context.Context, c *cliContext, query url.Values) error {
	if query.Get("since") == "" {
		query.Set("since", time.Now().UTC().Add(-time.Minute).Format(time.RFC3339Nano))
	}
	query.Set("limit", "500")
	seen := map[string]string{}
	if c.output != "json" {
		if err := c.printTable(callHeader, nil); err != nil {
			return err
		}
	}
	for {
		var calls []model.Call
		if err := c.client.List(ctx, "/api/v1/calls", query, &calls); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.errorf("list calls failed, retrying in 2 s: %s\n", err)
		}
		sort.Slice(calls, func(i, j int) bool { return calls[i].QueuedAt.Before(calls[j].QueuedAt) })
		for _, call := range calls {
			key := call.Status + "/" + call.Disposition + "/" + fmt.Sprint(len(call.Attempts))
			if seen[call.ID] == key {
				continue
			}
			seen[call.ID] = key
			if c.output == "json" {
				line, _ := json.Marshal(call)
				fmt.Fprintln(c.stdout, string(escapeJSONText(line)))
				continue
			}
			c.printTable(nil, [][]string{callRow(call)})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

func runCall(ctx context.Context, c *cliContext, args []string) error {
	var call model.Call
	if err := c.client.Do(ctx, "GET", "/api/v1/calls/"+url.PathEscape(args[0]), nil, nil, &call); err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(call)
	}
	c.printf("Call %s\n", call.ID)
	c.printf("  phone:       %s\n", call.Phone)
	c.printf("  status:      %s\n", call.Status)
	c.printf("  disposition: %s\n", text(call.Disposition))
	c.printf("  reason:      %s\n", text(call.Reason))
	c.printf("  request:     %s (endpoint %s)\n", call.RequestID, call.EndpointID)
	c.printf("  queued at:   %s\n", call.QueuedAt.Format(time.RFC3339))
	if !call.FinishedAt.IsZero() {
		c.printf("  finished at: %s\n", call.FinishedAt.Format(time.RFC3339))
	}
	for _, a := range call.Attempts {
		c.printf("\nAttempt %d on agent %s (trunk %s), assigned %s\n", a.Number, a.AgentID, text(a.Trunk), a.AssignedAt.Format(time.RFC3339))
		c.printf("  progress:    %s\n", text(a.Progress))
		c.printf("  disposition: %s, retryable: %s\n", text(a.Disposition), yesNo(a.Retryable))
		c.printf("  cause:       %d %s\n", a.Cause, a.CauseText)
		if a.SIPCode != 0 {
			c.printf("  SIP code:    %d\n", a.SIPCode)
		}
		if a.Error != "" {
			c.printf("  error:       %s\n", a.Error)
		}
		if len(a.Raw) > 0 {
			var pretty bytes.Buffer
			if json.Indent(&pretty, a.Raw, "    ", "  ") == nil {
				// Indent accepts only valid JSON, which has no raw C0
				// controls, so only C1 and invalid bytes need escaping.
				fmt.Fprintf(c.stdout, "  raw ARI data:\n    %s\n", escapeJSONText(pretty.Bytes()))
			}
		}
	}
	return nil
}

func runRequests(ctx context.Context, c *cliContext, f requestFilter) error {
	q := url.Values{}
	setIf(q, "endpoint_id", f.endpoint)
	setIf(q, "org_id", f.org)
	setIf(q, "outcome", f.outcome)
	if err := setSinceAndLimit(q, f.since, f.limit); err != nil {
		return err
	}
	var requests []model.Request
	if err := c.client.List(ctx, "/api/v1/requests", q, &requests); err != nil {
		return err
	}
	return c.printResult(requests, func() error {
		rows := make([][]string, 0, len(requests))
		for _, r := range requests {
			queued := 0
			for _, p := range r.Phones {
				if p.Queued {
					queued++
				}
			}
			rule := "default"
			if r.RuleIndex >= 0 {
				rule = fmt.Sprintf("#%d %s", r.RuleIndex, r.RuleName)
			}
			rows = append(rows, []string{
				r.ID, r.ReceivedAt.Local().Format("2006-01-02 15:04:05"), r.EndpointID,
				r.State, text(r.Severity), r.Outcome, rule, fmt.Sprintf("%d/%d", queued, len(r.Phones)), truncate(r.Message, 40),
			})
		}
		return c.printTable([]string{"REQUEST", "RECEIVED", "ENDPOINT", "STATE", "SEVERITY", "OUTCOME", "RULE", "QUEUED", "MESSAGE"}, rows)
	})
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return text(s)
}

// readPayload reads a webhook payload from stdin for `endpoint test`.
func readPayload(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, 2<<20))
	if err != nil {
		return nil, fmt.Errorf("read the payload from standard input: %w", err)
	}
	return data, nil
}
