package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestAgentInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing hubs", []string{"-token", "rha_a1_secret", "-ari-user", "u", "-ari-password", "p"}, "hub URLs are missing"},
		{"bad token", []string{"-hub-urls", "http://127.0.0.1:1", "-token", "nope", "-ari-user", "u", "-ari-password", "p"}, "invalid agent token"},
		{"bad template", []string{"-hub-urls", "http://127.0.0.1:1", "-token", "rha_a1_secret", "-ari-user", "u", "-ari-password", "p", "-dial-template", "PJSIP/trunk"}, "invalid dial template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("RINGHOOK_TOKEN", "")
			var stderr bytes.Buffer
			code := runMain(context.Background(), append([]string{"agent"}, tt.args...), nil, &bytes.Buffer{}, &stderr)
			if code != 2 {
				t.Errorf("exit code = %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.want)
			}
		})
	}
}
