// Package pbxsim is a test double for the part of the Asterisk 20 REST
// Interface (ARI) that the ringhook agent uses. It serves, with HTTP Basic
// auth or ?api_key=user:password:
//
//	GET    /ari/asterisk/info, /ari/asterisk/ping
//	POST   /ari/channels, /ari/channels/{id}   originate (query string or JSON body)
//	GET    /ari/channels, /ari/channels/{id}
//	DELETE /ari/channels/{id}[?reason=normal]
//	GET    /ari/applications[/{app}]
//	PUT    /ari/applications/{app}/eventFilter
//	GET    /ari/events?app=NAME                the event websocket
//
// There is no SIP: for each originate, a Behavior chosen by the dialed
// number plays the far end of the trunk, and the server sends the events
// that Asterisk 20.20.1 with a chan_sip trunk sent for the same SIP
// response: the same event types in the same order, channel states, dial
// statuses, causes and cause texts. KindForRecording maps each recorded
// call to its kind.
//
// Behavior that follows Asterisk:
//   - The originate request returns 200 with a Channel in state Down as soon as the
//     channel exists; the outcome arrives only as events. A live channel id
//     gives 409, a missing or malformed endpoint or a missing app 400, an
//     unknown technology or KindAllocationFailure 500 {"error":"Allocation failed"},
//     bad credentials 401 {"message":"Authentication required"}.
//   - Events go only to the websocket of the app named in the originate.
//     One websocket per app name: a second one takes over and the first
//     receives ApplicationReplaced. Events sent while an app has no
//     websocket are lost. A call answered then is hung up, because Stasis
//     cannot start.
//   - StasisStart arrives only on answer. A DELETE gives
//     ChannelHangupRequest with cause 32 and soft true. ChannelDestroyed
//     is always the last event of a channel.
//   - The eventFilter allow and deny lists drop events per app.
//
// The number of a call is the longest run of digits in the endpoint, with
// a "+" in front when there is one (see NumberFromEndpoint).
//
// Faults for failover tests: SetWrongCredentials, RefuseConnections,
// SetSlow, DropWebsockets, EmitEvent, Stop and Start on the same address,
// and Config.FailShare. Originations lists every call for assertions. The
// same controls are available over HTTP through ControlHandler.
package pbxsim
