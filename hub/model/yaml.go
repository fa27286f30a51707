package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// UnmarshalYAML decodes YAML into v through JSON, so that model types read
// YAML with their JSON field names. A JSON document is valid YAML too.
func UnmarshalYAML(data []byte, v any) error {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("invalid YAML: %w", err)
	}
	asJSON, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("YAML has a value JSON cannot hold (use string keys): %w", err)
	}
	if err := json.Unmarshal(asJSON, v); err != nil {
		return err
	}
	return nil
}

// UnmarshalYAMLStrict is UnmarshalYAML for files a person writes, where a
// typo must not pass unnoticed. It returns an error for an empty input,
// for more than one YAML document (separated by "---"), and for a key
// that v's type does not have, naming the key.
func UnmarshalYAMLStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc any
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the file has no YAML document: it is empty or holds only comments")
		}
		return fmt.Errorf("invalid YAML: %w", err)
	}
	// An empty document after a trailing "---" is harmless.
	for {
		var next any
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("invalid YAML after the first document: %w", err)
		}
		if next != nil {
			return errors.New("the file has more than one YAML document (separated by ---): put everything in one document")
		}
	}

	asJSON, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("YAML has a value JSON cannot hold (use string keys): %w", err)
	}
	jsonDec := json.NewDecoder(bytes.NewReader(asJSON))
	jsonDec.DisallowUnknownFields()
	if err := jsonDec.Decode(v); err != nil {
		// encoding/json names an unknown key only in its message.
		if key, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("unknown key %s: check its spelling and indentation", key)
		}
		return err
	}
	return nil
}
