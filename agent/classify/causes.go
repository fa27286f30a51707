package classify

// causeTexts are Asterisk's cause_txt strings (the causes table behind
// ast_cause2str in main/channel.c) for the causes an outbound call is likely
// to end with. The PBX simulator keeps a separate table on purpose: it
// stands in for Asterisk in tests, and a table taken from here could never
// disagree with this one.
var causeTexts = map[int]string{
	0:   "Unknown",
	1:   "Unallocated (unassigned) number",
	2:   "No route to specified transmit network",
	3:   "No route to destination",
	16:  "Normal Clearing",
	17:  "User busy",
	18:  "No user responding",
	19:  "User alerting, no answer",
	20:  "Subscriber absent",
	21:  "Call Rejected",
	22:  "Number changed",
	26:  "Answered elsewhere",
	27:  "Destination out of order",
	28:  "Invalid number format",
	29:  "Facility rejected",
	31:  "Normal, unspecified",
	34:  "Circuit/channel congestion",
	38:  "Network out of order",
	41:  "Temporary failure",
	42:  "Switching equipment congestion",
	44:  "Requested channel not available",
	58:  "Bearer capability not available",
	66:  "Channel not implemented",
	102: "Recover on timer expiry",
	111: "Protocol error, unspecified",
	127: "Interworking, unspecified",
}

// CauseText returns Asterisk's text for a Q.850 cause, or "" when unknown.
func CauseText(cause int) string {
	return causeTexts[cause]
}
