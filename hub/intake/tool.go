package intake

import "strings"

// Tool names that Parse reports in model.Alert.Tool.
const (
	ToolAlertmanager = "alertmanager"
	ToolPrometheus   = "prometheus"
	ToolGrafana      = "grafana"
	ToolDatadog      = "datadog"
	ToolAWSSNS       = "aws_sns"
	ToolCloudWatch   = "cloudwatch"
	ToolAzureMonitor = "azure_monitor"
	ToolGoogleCloud  = "google_cloud_monitoring"
	ToolPagerDuty    = "pagerduty"
	ToolOpsgenie     = "opsgenie"
	ToolSentry       = "sentry"
	ToolNewRelic     = "new_relic"
	ToolZabbix       = "zabbix"
	ToolNetdata      = "netdata"
	ToolNagios       = "nagios"
	ToolGraylog      = "graylog"
	ToolUptimeKuma   = "uptime_kuma"
	ToolUptimeRobot  = "uptimerobot"
	ToolPingdom      = "pingdom"
	ToolStatusCake   = "statuscake"
)

// detectTool names the sending tool from the shape of its fields. Each test
// needs keys that only that tool sends together, so an unknown payload
// reports no tool rather than a wrong one.
func detectTool(f map[string]any, format string) string {
	switch {
	case isSNS(f):
		if _, _, ok := lookup(f, "Message.NewStateValue"); ok {
			return ToolCloudWatch
		}
		return ToolAWSSNS
	case text(f, "source") == "aws.cloudwatch" || has(f, "detail.state.value", "detail.alarmName"):
		return ToolCloudWatch

	case isList(f, "alerts") && hasAny(f, "groupKey", "commonLabels", "receiver"):
		if hasAny(f, "orgId", "alerts.0.dashboardURL", "alerts.0.panelURL", "alerts.0.valueString") {
			return ToolGrafana
		}
		return ToolAlertmanager
	case has(f, "ruleName", "state") && hasAny(f, "evalMatches", "ruleId", "ruleUrl"):
		return ToolGrafana
	case format == "json_array" && hasAny(f, "labels.alertname", "generatorURL"):
		return ToolPrometheus

	case hasAny(f, "routing_key", "event_action") && has(f, "payload"):
		return ToolPagerDuty
	case strings.HasPrefix(text(f, "event.event_type"), "incident.") && has(f, "event.data"):
		return ToolPagerDuty
	case text(f, "schemaId") == "azureMonitorCommonAlertSchema" || has(f, "data.essentials.monitorCondition"):
		return ToolAzureMonitor
	case has(f, "incident") && hasAny(f, "incident.policy_name", "incident.incident_id", "incident.condition_name"):
		return ToolGoogleCloud
	case has(f, "action", "alert.alertId"):
		return ToolOpsgenie

	case hasAny(f, "alert_transition", "aggreg_key") || has(f, "org.id", "org.name", "event_type", "last_updated"):
		return ToolDatadog
	case has(f, "installation", "action", "data") || has(f, "project_slug", "culprit"):
		return ToolSentry
	case has(f, "issueUrl", "priority", "state") || has(f, "current_state", "incident_id", "policy_name"):
		return ToolNewRelic

	case has(f, "event_definition_id", "event"):
		return ToolGraylog
	case has(f, "heartbeat", "monitor") || has(f, "heartbeat", "msg"):
		return ToolUptimeKuma
	case hasAny(f, "monitorFriendlyName", "monitor_friendly_name", "alertTypeFriendlyName", "alert_type_friendly_name"):
		return ToolUptimeRobot
	case has(f, "check_id", "current_state") && hasAny(f, "check_type", "importance_level"):
		return ToolPingdom
	case isZabbix(f):
		return ToolZabbix
	case hasAny(f, "chart", "context") && hasAny(f, "alarm", "alert") && hasAny(f, "family", "space", "rooms"):
		return ToolNetdata
	case nagiosKey(f, "NOTIFICATIONTYPE") != "":
		return ToolNagios
	case has(f, "Status", "StatusCode", "Name") && hasAny(f, "URL", "Token", "CheckRate"):
		return ToolStatusCake
	}
	return ""
}

func isSNS(f map[string]any) bool {
	switch text(f, "Type") {
	case "Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation":
		return has(f, "TopicArn")
	}
	return false
}

// isZabbix recognizes the parameter names of Zabbix's bundled webhook
// media types (event_nseverity, event_value with trigger_id or
// event_source) and any key that names Zabbix.
func isZabbix(f map[string]any) bool {
	if has(f, "event_nseverity") || (has(f, "event_value") && hasAny(f, "trigger_id", "event_source")) {
		return true
	}
	for k := range f {
		if strings.Contains(strings.ToLower(k), "zabbix") {
			return true
		}
	}
	return false
}

// nagiosKey returns the key holding a Nagios or Icinga macro, sent either
// bare ("NOTIFICATIONTYPE") or with the environment prefix
// ("NAGIOS_NOTIFICATIONTYPE", "ICINGA_NOTIFICATIONTYPE").
func nagiosKey(f map[string]any, macro string) string {
	for _, k := range []string{macro, "NAGIOS_" + macro, "ICINGA_" + macro} {
		if _, spelled, ok := getKey(f, k); ok {
			return spelled
		}
	}
	return ""
}

func isList(f map[string]any, path string) bool {
	v, _, ok := lookup(f, path)
	if !ok {
		return false
	}
	_, isList := v.([]any)
	return isList
}

// text returns the scalar text at path, or "".
func text(f map[string]any, path string) string {
	s, _, _ := lookupText(f, path)
	return s
}
