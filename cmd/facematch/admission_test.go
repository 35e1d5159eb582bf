package main

import (
	"flag"
	"io"
	"strings"
	"testing"
)

// TestAdmissionFlags: the memory budget reads sizes with units from the flag or the
// environment, and Validate names every bad value.
func TestAdmissionFlags(t *testing.T) {
	parse := func(env map[string]string, args ...string) error {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var dc dataConfig
		dc.bind(fs, func(k string) string { return env[k] })
		if err := fs.Parse(args); err != nil {
			return err
		}
		if dc.MemoryBudget != 3<<30 && len(args) > 0 && args[0] == "--memory-budget=3GiB" {
			t.Errorf("budget %d, want 3 GiB", dc.MemoryBudget)
		}
		return dc.Validate()
	}
	if err := parse(nil, "--memory-budget=3GiB"); err != nil {
		t.Errorf("3GiB: %v", err)
	}
	if err := parse(map[string]string{"FACEMATCH_MEMORY_BUDGET": "512MiB", "FACEMATCH_DECODE_TIMEOUT": "5s"}); err != nil {
		t.Errorf("env: %v", err)
	}
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--memory-budget=lots"}, "want a size such as 2GiB"},
		{nil, []string{"--memory-budget=100MiB"}, "--memory-budget must be at least 256MiB"},
		{map[string]string{"FACEMATCH_MEMORY_BUDGET": "2 TB?"}, nil, "FACEMATCH_MEMORY_BUDGET: want a size"},
		{map[string]string{"FACEMATCH_ADMISSION_WAIT": "soon"}, nil, "FACEMATCH_ADMISSION_WAIT: want a duration"},
		{nil, []string{"--admission-wait=0s"}, "--admission-wait must be in (0, 1m]"},
		{nil, []string{"--decode-timeout=10ms"}, "--decode-timeout must be at least 1s"},
	} {
		if err := parse(c.env, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: %v, want %q", c.env, c.args, err, c.want)
		}
	}
}
