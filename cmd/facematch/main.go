// Command facematch is the face-matching engine's single binary. Subcommands:
//
//	facematch serve                             the REST API (issue 4): galleries, search, review, audit
//	facematch admin recover --name NAME         a new admin credential when every admin one is lost
//	facematch detect [--json] IMAGE...          faces, landmarks, quality, rejection reasons
//	facematch compare IMAGE_A IMAGE_B           best-face similarity and its band
//	facematch eval verify --pairs F --root DIR  verification accuracy on a pairs file
//	facematch eval identify --gallery DIR --probes DIR  1:N rank-1, FNIR at FPIR
//	facematch bench index --n N [--json]        vector index benchmark (bench/RESULTS.md)
//	facematch bench load --url URL [--clients 8,16,32] [--duration 2m] [--pid PID --budget SIZE] [--json]
//	                                            levels of clients mixing uploads, searches, decisions against a service
//	facematch bench scale --data-dir DIR --n N  search latency through the API at N enrolled faces
//	facematch audit verify [--checkpoint ID:HASH] the audit log's hash chain, up to a checkpoint
//	facematch audit checkpoint                  the latest audit entry's ID:HASH, for export
//
// Run `facematch help` for the shared flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "facematch:", err)
		}
		os.Exit(exitCode(err))
	}
}

// Main holds the process's outside world, so tests can run commands in-process.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// errUsage marks an error already explained on stderr with the usage text.
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

const usage = `facematch: face-similarity matching for investigations (proposes candidates; people decide)

Usage:
  facematch serve [--addr 127.0.0.1:8080] [--data-dir var] [--blobs s3://bucket/prefix]
  facematch ingest SOURCE --gallery ID --purpose TEXT [--meta FILE] [--cross-match ID,...] [--data-dir var]
  facematch ingest --resume JOB
  facematch ingest --reprocess MODEL --gallery ID --purpose TEXT
  facematch admin recover --name NAME
  facematch gallery create --name NAME [--kind collection|reference] [--model MODEL]
  facematch cluster --gallery ID[,ID]             (collections' faces into suggested persons; service stopped)
  facematch hash-photos                           (repost hashes for photos stored before schema 5, face-region ones before 7; service stopped)
  facematch age-faces                             (apparent ages for faces stored before schema 9 or while no age model ran; service stopped)
  facematch audit verify [--data-dir var] [--checkpoint ID:HASH]
  facematch audit checkpoint [--data-dir var]
  facematch sweep [--grace 0s] [--data-dir var]   (blobs no record references; service stopped)
  facematch migrate [--catalog postgres://… | --data-dir var]   (bring the catalog schema up to date and stop)
  facematch detect [--json] IMAGE...
  facematch compare [--json] IMAGE_A IMAGE_B
  facematch eval verify --pairs FILE --root DIR [--json] [--all-pairs]
  facematch eval identify --gallery DIR --probes DIR [--scoring max|mean_top2|template] [--json]
  facematch eval demographics --set utkface|fairface [--root DIR] [--lines T,...] [--json]
  facematch eval age --labels FILE [--root DIR] [--line 25] [--lines L,...] [--calibrate] [--json]
  facematch eval age --consistency DIR [--json]
  facematch eval cluster --root DIR[,DIR] [--k 20,50] [--methods LIST] [--vectors FILE] [--incremental 0.5] [--json]
  facematch eval neardup --root DIR [--n 1000] [--index 1000000] [--faces [--radius 11]] [--json]

Every command takes the model flags (run 'facematch detect -h' to list them).
`

// Run parses args and runs one subcommand.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return m.runServe(ctx, args[1:])
	case "ingest":
		return m.runIngest(ctx, args[1:])
	case "admin":
		if len(args) < 2 || args[1] != "recover" {
			fmt.Fprint(m.Stderr, usage)
			return errUsage
		}
		return m.runAdminRecover(ctx, args[2:])
	case "sweep":
		return m.runSweep(ctx, args[1:])
	case "migrate":
		return m.runMigrate(ctx, args[1:])
	case "cluster":
		return m.runCluster(ctx, args[1:])
	case "hash-photos":
		return m.runHashPhotos(ctx, args[1:])
	case "age-faces":
		return m.runAgeFaces(ctx, args[1:])
	case "gallery":
		if len(args) < 2 || args[1] != "create" {
			fmt.Fprint(m.Stderr, usage)
			return errUsage
		}
		return m.runGalleryCreate(ctx, args[2:])
	case "audit":
		return m.runAudit(ctx, args[1:])
	case "detect":
		return m.runDetect(ctx, args[1:])
	case "compare":
		return m.runCompare(ctx, args[1:])
	case "eval":
		switch {
		case len(args) >= 2 && args[1] == "verify":
			return m.runEvalVerify(ctx, args[2:])
		case len(args) >= 2 && args[1] == "identify":
			return m.runEvalIdentify(ctx, args[2:])
		case len(args) >= 2 && args[1] == "demographics":
			return m.runEvalDemographics(ctx, args[2:])
		case len(args) >= 2 && args[1] == "age":
			return m.runEvalAge(ctx, args[2:])
		case len(args) >= 2 && args[1] == "cluster":
			return m.runEvalCluster(ctx, args[2:])
		case len(args) >= 2 && args[1] == "neardup":
			return m.runEvalNeardup(ctx, args[2:])
		}
		fmt.Fprint(m.Stderr, usage)
		return errUsage
	case "bench":
		switch {
		case len(args) >= 2 && args[1] == "index":
			return m.runBenchIndex(ctx, args[2:])
		case len(args) >= 2 && args[1] == "cluster":
			return m.runBenchCluster(ctx, args[2:])
		case len(args) >= 2 && args[1] == "ingest":
			return m.runBenchIngest(ctx, args[2:])
		case len(args) >= 2 && args[1] == "load":
			return m.runBenchLoad(ctx, args[2:])
		case len(args) >= 2 && args[1] == "review":
			return m.runBenchReview(ctx, args[2:])
		case len(args) >= 2 && args[1] == "scale":
			return m.runBenchScale(ctx, args[2:])
		}
		fmt.Fprint(m.Stderr, usage)
		return errUsage
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	default:
		fmt.Fprintf(m.Stderr, "facematch: unknown command %q\n\n%s", args[0], usage)
		return errUsage
	}
}
