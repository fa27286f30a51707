package ari

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	ariv5 "github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"
)

// Event is one ARI event of a call, as the library decoded it.
type Event struct {
	Type       string
	State      string // ChannelStateChange, StasisStart: the channel state
	DialStatus string // Dial
	Cause      int    // ChannelDestroyed, ChannelHangupRequest
}

// Call is one originated channel.
type Call struct {
	ChannelID string
	// Answer is Asterisk's answer to the originate request.
	Answer OriginateAnswer

	driver *Driver
	events chan Event
	done   chan struct{}
	once   sync.Once

	mu  sync.Mutex
	raw []json.RawMessage
}

// Events receives the call's events in order. It is closed when the call is
// closed or the library's subscription ends.
func (c *Call) Events() <-chan Event { return c.events }

// Transcript returns the raw JSON of every event of the channel received so
// far, as Asterisk sent it.
func (c *Call) Transcript() []json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]json.RawMessage(nil), c.raw...)
}

func (c *Call) record(raw []byte) {
	c.mu.Lock()
	c.raw = append(c.raw, append(json.RawMessage(nil), raw...))
	c.mu.Unlock()
}

// Close stops following the call. It does not hang it up.
func (c *Call) Close() {
	c.once.Do(func() {
		close(c.done)
		c.driver.mu.Lock()
		if c.driver.calls[c.ChannelID] == c {
			delete(c.driver.calls, c.ChannelID)
		}
		c.driver.mu.Unlock()
	})
}

// Originate places a call into the agent's application with the requested
// channel id. A channel id that is already tracked, or that Asterisk
// answers with 409, returns an error matching ErrChannelExists and does not
// ring again. A failed POST returns an *OriginateError. When ctx ends before
// the POST is sent, the returned error matches ctx.Err() and nothing is
// dialed; after that, ctx no longer stops the call.
func (d *Driver) Originate(ctx context.Context, req OriginateRequest) (*Call, error) {
	d.mu.Lock()
	cl, up := d.client, d.wsUp
	_, dup := d.calls[req.ChannelID]
	d.mu.Unlock()
	if cl == nil || !up {
		return nil, ErrWebsocketDown
	}
	if dup {
		return nil, fmt.Errorf("originate %s: %w", req.ChannelID, ErrChannelExists)
	}

	// The filter lives on the application object; a silent reconnect may
	// have recreated it without one.
	err := d.putEventFilter(ctx)
	if ctxErr := ctx.Err(); ctxErr != nil {
		// Checked last before the POST: a cancelled request is never sent.
		return nil, fmt.Errorf("originate %s withdrawn before dialing: %w", req.ChannelID, ctxErr)
	}
	if err != nil {
		return nil, &OriginateError{Err: err}
	}

	c := &Call{
		ChannelID: req.ChannelID,
		driver:    d,
		events:    make(chan Event, 64),
		done:      make(chan struct{}),
	}
	d.mu.Lock()
	if _, dup := d.calls[req.ChannelID]; dup {
		d.mu.Unlock()
		return nil, fmt.Errorf("originate %s: %w", req.ChannelID, ErrChannelExists)
	}
	d.calls[req.ChannelID] = c
	d.mu.Unlock()

	seconds := int((req.Timeout + time.Second - 1) / time.Second)
	if seconds <= 0 {
		seconds = 30
	}
	// A new staged handle per attempt: Exec sends the POST only once.
	h, err := cl.Channel().StageOriginate(nil, ariv5.OriginateRequest{
		Endpoint:  req.Endpoint,
		App:       d.cfg.Application,
		AppArgs:   req.AppArgs,
		CallerID:  req.CallerID,
		Timeout:   seconds,
		ChannelID: req.ChannelID,
	})
	if err != nil {
		c.Close()
		return nil, &OriginateError{Err: fmt.Errorf("stage originate: %w", err)}
	}

	// Subscribe before Exec: a fast failure can arrive before the POST returns.
	sub := h.Subscribe(eventTypes...)
	d.workers.Add(1)
	go c.pump(sub)

	execErr := h.Exec()
	answer, captured := d.relay.takeOriginate(req.ChannelID)
	c.Answer = answer
	if execErr == nil {
		return c, nil
	}

	code := native.CodeFromError(execErr)
	if code == http.StatusConflict || answer.Status == http.StatusConflict {
		c.Close()
		if !captured {
			c.Answer.Status = http.StatusConflict
		}
		return nil, &OriginateError{Answer: c.Answer, Err: execErr}
	}
	if !captured || answer.Status == 0 || answer.Status == http.StatusBadGateway {
		// The POST may or may not have reached Asterisk: ask it. Once the
		// POST is sent, cancelling ctx no longer withdraws the call.
		exists, err := d.ChannelExists(context.WithoutCancel(ctx), req.ChannelID)
		if err == nil && exists {
			d.logger.Warn("originate answer was lost but the channel exists; following it", "channel_id", req.ChannelID, "error", execErr)
			c.Answer = OriginateAnswer{Status: http.StatusOK}
			return c, nil
		}
	}
	c.Close()
	return nil, &OriginateError{Answer: c.Answer, Err: execErr}
}

// pump forwards the library's events for this channel until the call is
// closed. It never blocks the library's bus for long: the events channel is
// buffered, and the bus drops events for a full subscription anyway.
func (c *Call) pump(sub ariv5.Subscription) {
	defer c.driver.workers.Done()
	defer sub.Cancel()
	defer close(c.events)
	for {
		select {
		case <-c.done:
			return
		case e, ok := <-sub.Events():
			if !ok {
				return
			}
			ev, mine := c.convert(e)
			if !mine {
				continue
			}
			select {
			case c.events <- ev:
			case <-c.done:
				return
			}
		}
	}
}

// convert keeps only events about this channel: the library's key matching
// can deliver other channels' events to a channel subscription.
func (c *Call) convert(e ariv5.Event) (Event, bool) {
	switch v := e.(type) {
	case *ariv5.Dial:
		return Event{Type: v.Type, DialStatus: v.Dialstatus}, v.Peer.ID == c.ChannelID
	case *ariv5.ChannelStateChange:
		return Event{Type: v.Type, State: v.Channel.State}, v.Channel.ID == c.ChannelID
	case *ariv5.StasisStart:
		return Event{Type: v.Type, State: v.Channel.State}, v.Channel.ID == c.ChannelID
	case *ariv5.StasisEnd:
		return Event{Type: v.Type}, v.Channel.ID == c.ChannelID
	case *ariv5.ChannelHangupRequest:
		return Event{Type: v.Type, Cause: v.Cause}, v.Channel.ID == c.ChannelID
	case *ariv5.ChannelDestroyed:
		return Event{Type: v.Type, Cause: v.Cause}, v.Channel.ID == c.ChannelID
	}
	return Event{}, false
}

// IsWebsocketDown reports whether err means the event websocket was down.
func IsWebsocketDown(err error) bool { return errors.Is(err, ErrWebsocketDown) }

// Follow tracks a channel that already exists in Asterisk without dialing
// it, e.g. one that an earlier delivery of the same assignment started.
func (d *Driver) Follow(channelID string) (*Call, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client == nil {
		return nil, ErrWebsocketDown
	}
	if _, dup := d.calls[channelID]; dup {
		return nil, fmt.Errorf("follow %s: %w", channelID, ErrChannelExists)
	}
	c := &Call{
		ChannelID: channelID,
		Answer:    OriginateAnswer{Status: http.StatusOK},
		driver:    d,
		events:    make(chan Event, 64),
		done:      make(chan struct{}),
	}
	d.calls[channelID] = c
	sub := d.client.Bus().Subscribe(ariv5.NewKey(ariv5.ChannelKey, channelID), eventTypes...)
	d.workers.Add(1)
	go c.pump(sub)
	return c, nil
}
