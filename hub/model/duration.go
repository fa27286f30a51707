package model

import (
	"encoding/json"
	"fmt"
	"time"
)

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return d.set(v)
}

// MarshalYAML writes the duration as a Go duration string.
func (d Duration) MarshalYAML() (any, error) {
	return time.Duration(d).String(), nil
}

// UnmarshalYAML reads a duration string or a number of seconds.
func (d *Duration) UnmarshalYAML(unmarshal func(any) error) error {
	var v any
	if err := unmarshal(&v); err != nil {
		return err
	}
	return d.set(v)
}

func (d *Duration) set(v any) error {
	switch x := v.(type) {
	case nil:
		*d = 0
	case string:
		parsed, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("invalid duration %q: use a form such as 90s or 2m", x)
		}
		if parsed < 0 {
			return fmt.Errorf("invalid duration %q: must not be negative", x)
		}
		*d = Duration(parsed)
	case float64:
		if x < 0 {
			return fmt.Errorf("invalid duration %v: must not be negative", x)
		}
		*d = Duration(x * float64(time.Second))
	case int:
		if x < 0 {
			return fmt.Errorf("invalid duration %v: must not be negative", x)
		}
		*d = Duration(time.Duration(x) * time.Second)
	default:
		return fmt.Errorf("invalid duration %v: use a string such as 90s", v)
	}
	return nil
}
