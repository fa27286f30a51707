package model

import (
	"encoding/json"
	"fmt"

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
