package pbxsim

// Expectation is the events and outcome an application receives for one
// behavior kind, when the originate timeout is longer than every delay of
// the behavior. It summarizes the recording the kind reproduces, for tests
// that classify calls.
type Expectation struct {
	Kind string
	// HTTPStatus is the status of the originate response: 200, or 500 for an allocation
	// failure (then no event follows).
	HTTPStatus int
	// Events are the event types for the channel in order, with an
	// application that deletes the channel once StasisStart arrives.
	Events []string
	// Rang is true when the channel reached state Ringing (Dial RINGING).
	Rang bool
	// Answered is true when StasisStart arrived.
	Answered bool
	// LastDialStatus is the dialstatus of the last Dial event.
	LastDialStatus string
	// Cause and CauseText are those of ChannelDestroyed.
	Cause     int
	CauseText string
}

var rtpStats = []string{"ChannelVarset", "ChannelVarset", "ChannelVarset", "ChannelVarset", "ChannelVarset"}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Expect returns the expectation for a kind, and false for an unknown kind.
func Expect(kind string) (Expectation, bool) {
	e := Expectation{Kind: kind, HTTPStatus: 200}
	switch kind {
	case KindAnswer:
		e.Events = concat(
			[]string{"Dial", "ChannelStateChange", "Dial", "ChannelStateChange", "Dial", "ChannelVarset", "StasisStart"},
			rtpStats,
			[]string{"ChannelHangupRequest", "StasisEnd", "ChannelVarset", "ChannelVarset", "ChannelDestroyed"},
		)
		e.Rang, e.Answered, e.LastDialStatus, e.Cause = true, true, "ANSWER", causeNormal
	case KindBusy:
		e.Events = []string{"Dial", "Dial", "ChannelDestroyed"}
		e.LastDialStatus, e.Cause = "BUSY", causeBusy
	case KindDecline:
		e.Events = []string{"Dial", "Dial", "ChannelDestroyed"}
		e.LastDialStatus, e.Cause = "BUSY", causeRejected
	case KindNoAnswer:
		e.Events = []string{"Dial", "ChannelStateChange", "Dial", "ChannelDestroyed"}
		e.Rang, e.LastDialStatus, e.Cause = true, "RINGING", causeNoAnswer
	case KindTrunk503:
		e.Events = []string{"Dial", "Dial", "ChannelDestroyed"}
		e.LastDialStatus, e.Cause = "CONGESTION", causeCongestion
	case KindUnreachable:
		e.Events = []string{"Dial", "ChannelDestroyed"}
		e.LastDialStatus, e.Cause = "", causeNoAnswer
	case KindUnavailable:
		e.Events = concat([]string{"Dial", "Dial"}, rtpStats, []string{"ChannelVarset", "ChannelDestroyed"})
		e.LastDialStatus, e.Cause = "BUSY", causeNoAnswer
	case KindUnallocated:
		e.Events = concat([]string{"Dial", "ChannelHangupRequest", "Dial"}, rtpStats, []string{"ChannelVarset", "ChannelDestroyed"})
		e.LastDialStatus, e.Cause = "NOANSWER", causeUnallocated
	case KindAllocationFailure:
		e.HTTPStatus = 500
	default:
		return Expectation{}, false
	}
	if e.HTTPStatus == 200 {
		e.CauseText = CauseText(e.Cause)
	}
	return e, true
}
