package classify

import (
	"encoding/json"
	"fmt"
)

// ParseRecording reads a recorded call: a JSON array whose first element
// holds originate_status and originate_body, and whose later elements each
// hold one websocket event under "event" (other elements are notes).
// The channel id is taken from the originate body.
func ParseRecording(data []byte) (Input, error) {
	var items []struct {
		OriginateStatus *int            `json:"originate_status"`
		OriginateBody   json.RawMessage `json:"originate_body"`
		Event           json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(data, &items); err != nil {
		return Input{}, fmt.Errorf("decode recording: %w", err)
	}
	if len(items) == 0 || items[0].OriginateStatus == nil {
		return Input{}, fmt.Errorf("decode recording: the first element has no originate_status")
	}

	in := Input{OriginateStatus: *items[0].OriginateStatus}
	var body struct {
		ID string `json:"id"`
	}
	if len(items[0].OriginateBody) > 0 && json.Unmarshal(items[0].OriginateBody, &body) == nil {
		in.ChannelID = body.ID
	}
	for i, item := range items[1:] {
		if len(item.Event) == 0 {
			continue
		}
		ev, err := ParseEvent(item.Event)
		if err != nil {
			return Input{}, fmt.Errorf("recording element %d: %w", i+1, err)
		}
		in.Events = append(in.Events, ev)
	}
	return in, nil
}
