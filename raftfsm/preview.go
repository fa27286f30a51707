package raftfsm

import (
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Preview routes an Intake and applies the brakes in a read transaction
// without storing anything. It returns the Response Apply would give now:
// the request with its per-phone decisions and the calls it would queue,
// with their future ids. Request.CancelledCallIDs lists the queued calls a
// resolved notification would cancel. A zero Meta.Time means the current
// time. A rejected command returns a *ApplyError.
func (f *FSM) Preview(cmd *Intake) (*Response, error) {
	var resp *Response
	err := f.view(func(tx *bolt.Tx) error {
		now := cmd.Meta.Time.UTC()
		if cmd.Meta.Time.IsZero() {
			now = time.Now().UTC()
		}
		if last := appliedTime(tx); now.Before(last) {
			now = last
		}
		plan, err := planIntake(tx, cmd, now)
		if err != nil {
			return err
		}
		resp = &Response{Request: &plan.request, Calls: plan.calls}
		return nil
	})
	var ae *ApplyError
	if errors.As(err, &ae) {
		return nil, ae
	}
	return resp, err
}
