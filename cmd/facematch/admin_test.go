package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/facematch/facematch/internal/testenv"
)

// The last admin cannot lock everyone out, and an operator on the machine holding the data can
// always get back in, audited (issue 12, defect 9).
func TestLastAdminAndRecovery(t *testing.T) {
	testenv.RequireModels(t)
	dataDir := t.TempDir()
	s := startService(t, []string{"--data-dir", dataDir}, nil)
	type token struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	var list struct {
		Tokens []token `json:"tokens"`
	}
	s.mustCall(200, "GET", "/v1/tokens", bootstrap, nil, &list)
	if len(list.Tokens) != 1 {
		t.Fatalf("tokens = %+v, want the bootstrap admin alone", list.Tokens)
	}
	self := list.Tokens[0].ID
	s.mustCall(409, "DELETE", fmt.Sprintf("/v1/tokens/%d", self), bootstrap, nil, nil)

	var second struct {
		token
		Secret string `json:"secret"`
	}
	s.mustCall(201, "POST", "/v1/tokens", bootstrap, map[string]string{"name": "admin2", "role": "admin"}, &second)
	s.mustCall(200, "DELETE", fmt.Sprintf("/v1/tokens/%d", self), second.Secret, nil, nil)
	s.mustCall(401, "GET", "/v1/tokens", bootstrap, nil, nil)
	s.mustCall(409, "DELETE", fmt.Sprintf("/v1/tokens/%d", second.ID), second.Secret, nil, nil)
	s.stop()

	// The bootstrap credential, chosen by the operator, is stored like every other: its hash only.
	for _, f := range []string{"metadata.db", "metadata.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dataDir, f))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(bootstrap)) {
			t.Fatalf("%s holds the bootstrap secret in clear", f)
		}
	}

	// admin2's secret is lost: the operator issues a new admin credential on the data directory.
	r := run(t, "admin", "recover", "--name", "rescue", "--data-dir", dataDir)
	if r.err != nil {
		t.Fatalf("admin recover: %v", r)
	}
	m := regexp.MustCompile(`new admin credential "rescue" \(id \d+; shown once, store it now\): (fm_\S+)`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no secret printed: %v", r)
	}
	rescue := m[1]
	if r := run(t, "admin", "recover", "--name", "rescue", "--data-dir", dataDir); r.err == nil {
		t.Fatalf("a second credential named rescue was issued: %v", r)
	}

	s.start()
	defer s.stop()
	s.mustCall(200, "GET", "/v1/tokens", rescue, nil, &list)
	var aud struct {
		Secret string `json:"secret"`
	}
	s.mustCall(201, "POST", "/v1/tokens", rescue, map[string]string{"name": "aud", "role": "auditor"}, &aud)
	var entries struct {
		Items []struct {
			Actor  string `json:"actor"`
			Action string `json:"action"`
			Input  string `json:"input"`
		} `json:"items"`
	}
	s.mustCall(200, "GET", "/v1/audit?action=credential.recover", aud.Secret, nil, &entries)
	if len(entries.Items) != 1 || !regexp.MustCompile(`^cli:`).MatchString(entries.Items[0].Actor) ||
		entries.Items[0].Input != "name=rescue user=rescue role=admin galleries=all" {
		t.Fatalf("audit of the recovery = %+v, want one credential.recover by cli:<user>", entries.Items)
	}
}
