package pbxsim

import (
	"bytes"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// BehaviorFile is the YAML file of rules that ringhook pbxsim reads:
//
//	default:
//	  kind: answer
//	  answer_after: 3s
//	rules:
//	  - match: "+15551234567"
//	    kind: busy
//	  - match: "+4930*"
//	    kind: no-answer
type BehaviorFile struct {
	Default *Behavior `yaml:"default"`
	Rules   []Rule    `yaml:"rules"`
}

// LoadBehaviorFile reads and validates a BehaviorFile.
func LoadBehaviorFile(path string) (BehaviorFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return BehaviorFile{}, fmt.Errorf("read behavior file: %w", err)
	}
	var f BehaviorFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return BehaviorFile{}, fmt.Errorf("behavior file %s is not valid: %w", path, err)
	}
	if f.Default != nil {
		if err := f.Default.Validate(); err != nil {
			return BehaviorFile{}, fmt.Errorf("behavior file %s: default: %w", path, err)
		}
	}
	for i, r := range f.Rules {
		if err := r.Validate(); err != nil {
			return BehaviorFile{}, fmt.Errorf("behavior file %s: rule %d: %w", path, i+1, err)
		}
	}
	return f, nil
}
