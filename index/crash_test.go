package index

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/facematch/facematch/internal/blob/local"
)

// The crash test re-runs this test binary as a child that inserts faces and prints each
// acknowledged id; the parent kills it with SIGKILL at a random moment, reopens the index and
// checks that every acknowledged face is there, bit for bit.
const crashChildEnv = "FACEMATCH_INDEX_CRASH_CHILD"

func vectorFor(id uint64) []float32 {
	return unitVector(rand.New(rand.NewPCG(id, 99)), 32)
}

func crashConfig(dir string) (Config, error) {
	store, err := local.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		return Config{}, err
	}
	cfg := Config{Dir: filepath.Join(dir, "wal"), Store: store, Prefix: "index/crash", Model: testModel, Dim: 32, SegmentSize: 150}
	if _, err := os.Stat(filepath.Join(dir, "merging")); err == nil {
		// The merge crash test: small segments, merged three at a time, with graphs.
		cfg.SegmentSize, cfg.MergeFactor, cfg.Graph = 60, 3, mergeTestGraph()
	}
	return cfg, nil
}

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("runs only as the crash test's child process")
	}
	cfg, err := crashConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The merge crash test names a stage of a merge; the child reports every stage it reaches
	// and stops at that one until it is killed.
	pause := time.Duration(0)
	if stop := os.Getenv(crashChildEnv + "_STAGE"); stop != "" {
		pause = 2 * time.Millisecond // a steady load the persister keeps up with, so merges come

		cfg.mergeHook = func(stage string) {
			fmt.Println("merge " + stage)
			if stage == stop {
				select {}
			}
		}
	}
	ix, err := Open(context.Background(), cfg)
	if err != nil {
		fmt.Println("open error:", err)
		os.Exit(3)
	}
	start, _ := strconv.ParseUint(os.Getenv(crashChildEnv+"_START"), 10, 64)
	out := bufio.NewWriter(os.Stdout)
	for id := start; ; id += 3 {
		time.Sleep(pause)
		batch := []Entry{{ID: id, Gallery: id % 5, Vector: vectorFor(id)}, {ID: id + 1, Gallery: (id + 1) % 5, Vector: vectorFor(id + 1)}, {ID: id + 2, Gallery: (id + 2) % 5, Vector: vectorFor(id + 2)}}
		if err := ix.Add(context.Background(), testModel, batch); err != nil {
			fmt.Fprintln(out, "add error:", err)
			out.Flush()
			os.Exit(4)
		}
		switch id % 30 {
		case 0:
			if err := ix.Delete(context.Background(), id); err != nil {
				fmt.Fprintln(out, "delete error:", err)
				out.Flush()
				os.Exit(5)
			}
			fmt.Fprintf(out, "deleted %d\n", id)
		case 15:
			// A batch with a duplicate and an id never added: the known ones go, the other is
			// reported.
			missing, err := ix.DeleteBatch(context.Background(), []uint64{id + 1, id, id + 1, 1 << 40})
			if err != nil || !slices.Equal(missing, []uint64{1 << 40}) {
				fmt.Fprintln(out, "delete batch error:", err, missing)
				out.Flush()
				os.Exit(6)
			}
			fmt.Fprintf(out, "deleted %d\ndeleted %d\n", id, id+1)
		}
		fmt.Fprintf(out, "acked %d\n", id+2)
		out.Flush()
	}
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	acked := crashRounds(t, t.TempDir(), 20, func(int) string { return "" })
	if acked < 300 {
		t.Fatalf("only %d faces acknowledged over 20 rounds: the test did not exercise sealing", acked)
	}
}

// TestMergeCrashRecovery kills the child in the middle of merges: after the merged segment's
// graph is built, after its upload, after the manifest naming it (before the replaced objects
// are deleted), and at random. Each reopen must find the last published manifest valid and
// every acknowledged face, bit for bit.
func TestMergeCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "merging"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	stages := []string{"built", "uploaded", "published", ""}
	crashRounds(t, dir, 12, func(round int) string { return stages[round%len(stages)] })
	cfg, err := crashConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkManifests(t, cfg.Store, cfg.Prefix, false)
}

// crashRounds runs rounds of the crash child in dir, killing it at the merge stage that stage
// names for the round (waiting for the child to reach it) or, for "", at a random moment, and
// checks after each that the reopened index holds every acknowledged face. It returns how many
// were acknowledged.
func crashRounds(t *testing.T, dir string, rounds int, stage func(round int) string) int {
	t.Helper()
	r := rand.New(rand.NewPCG(2026, 11))
	acked := map[uint64]bool{} // id → deleted?
	next := uint64(0)
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, fmt.Sprintf("%s_START=%d", crashChildEnv, next))
		stop := stage(round)
		if stop != "" {
			cmd.Env = append(cmd.Env, crashChildEnv+"_STAGE="+stop)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		var early []string // lines read while waiting for the stage
		if stop == "" {
			// Kill between 50 and 800 ms in: sometimes mid-WAL-append, sometimes mid-segment upload.
			time.Sleep(time.Duration(50+r.IntN(750)) * time.Millisecond)
		} else {
			deadline := time.After(60 * time.Second)
		wait:
			for {
				select {
				case line, ok := <-lines:
					if !ok {
						t.Fatalf("round %d: the child ended before merge stage %q: %v", round, stop, early)
					}
					early = append(early, line)
					if line == "merge "+stop {
						break wait
					}
				case <-deadline:
					cmd.Process.Signal(syscall.SIGKILL)
					t.Fatalf("round %d: no merge reached stage %q in 60 s; the child said %d lines, the last %q", round, stop, len(early), early[max(0, len(early)-3):])
				}
			}
			time.Sleep(time.Duration(r.IntN(20)) * time.Millisecond) // the writes go on meanwhile
		}
		cmd.Process.Signal(syscall.SIGKILL)
		for line := range lines {
			early = append(early, line)
		}
		for _, line := range early {
			switch {
			case strings.HasPrefix(line, "acked "):
				last, _ := strconv.ParseUint(strings.TrimPrefix(line, "acked "), 10, 64)
				for id := last - 2; id <= last; id++ {
					if _, seen := acked[id]; !seen {
						acked[id] = false
					}
				}
				next = max(next, last+1)
			case strings.HasPrefix(line, "deleted "):
				id, _ := strconv.ParseUint(strings.TrimPrefix(line, "deleted "), 10, 64)
				acked[id] = true
			case strings.Contains(line, "error"):
				t.Fatalf("round %d: child: %s", round, line)
			}
		}
		cmd.Wait()
		// The child may have added a batch it never got to acknowledge: skip past its ids.
		next = (next/3 + 10) * 3

		cfg, err := crashConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		ix, err := Open(context.Background(), cfg)
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		present := map[uint64][]float32{}
		ix.ForEach(func(id, _ uint64, v []float32) { present[id] = append([]float32(nil), v...) })
		for id, deleted := range acked {
			v, found := present[id]
			if found == deleted {
				ix.Close()
				t.Fatalf("round %d: face %d (deleted=%v) found=%v after SIGKILL", round, id, deleted, found)
			}
			if found && !slices.Equal(v, vectorFor(id)) {
				ix.Close()
				t.Fatalf("round %d: face %d came back with a different vector", round, id)
			}
		}
		if len(present) != ix.Len() {
			t.Fatalf("round %d: %d live faces listed, Len says %d", round, len(present), ix.Len())
		}
		st := ix.Stats()
		if err := ix.Close(); err != nil {
			t.Fatal(err)
		}
		checkManifests(t, cfg.Store, cfg.Prefix, false) // the latest names only whole segments
		t.Logf("round %d (kill at %q): %d acknowledged faces all present after SIGKILL; %d segments", round, stop, len(acked), st.Segments)
	}
	return len(acked)
}
