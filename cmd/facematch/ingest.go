package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/app"
	"github.com/facematch/facematch/internal/source"
)

// ingestConfig is `facematch ingest`'s job request.
type ingestConfig struct {
	Source     string
	Gallery    int64
	Meta       string
	CrossMatch []int64
	MinSim     float64
	K          int
	Purpose    string
	Resume     int64
	Reprocess  string // target model of a reprocess job instead of an ingest
	JSON       bool
	Quiet      bool
}

func (c ingestConfig) Validate() error {
	var errs []error
	switch {
	case c.Resume != 0 && (c.Source != "" || c.Gallery != 0 || c.Reprocess != ""):
		errs = append(errs, errors.New("--resume takes a job ID alone"))
	case c.Resume == 0 && c.Gallery == 0:
		errs = append(errs, errors.New("--gallery is required"))
	case c.Resume == 0 && c.Reprocess == "" && c.Source == "":
		errs = append(errs, errors.New("a SOURCE is required: a directory, a zip, tar or tar.gz file, or s3://bucket/prefix"))
	case c.Reprocess != "" && c.Source != "":
		errs = append(errs, errors.New("--reprocess re-embeds a gallery's stored faces: it takes no SOURCE"))
	}
	if c.MinSim < -1 || c.MinSim > 1 {
		errs = append(errs, fmt.Errorf("--min-similarity must be in [-1, 1], got %g", c.MinSim))
	}
	return errors.Join(errs...)
}

// runIngest runs one job on the data directory directly (it takes the directory's lock, so
// the service must be stopped): an unfinished job with the same request is resumed rather
// than started again.
func (m *Main) runIngest(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var mc Config
	mc.bindModelFlags(fs, m.Getenv)
	var dc dataConfig
	dc.bind(fs, m.Getenv)
	var ic ingestConfig
	fs.Int64Var(&ic.Gallery, "gallery", 0, "collection gallery to fill (or, with --reprocess, the gallery to re-embed)")
	fs.StringVar(&ic.Meta, "meta", "", "metadata sidecar keyed by file name (.json or .csv)")
	fs.Func("cross-match", "comma-separated reference gallery IDs every new face is searched in", func(v string) error {
		for _, p := range strings.Split(v, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
			if err != nil || id < 1 {
				return fmt.Errorf("gallery IDs are positive integers, got %q", p)
			}
			ic.CrossMatch = append(ic.CrossMatch, id)
		}
		return nil
	})
	fs.Float64Var(&ic.MinSim, "min-similarity", 0, "cross-match threshold (0: the model's medium band)")
	fs.IntVar(&ic.K, "k", 5, "most candidates per face")
	fs.StringVar(&ic.Purpose, "purpose", "", "why the job runs: the reason or case reference (audited; required for a new job)")
	fs.Int64Var(&ic.Resume, "resume", 0, "resume this job (cancelled, failed or interrupted)")
	fs.StringVar(&ic.Reprocess, "reprocess", "", "re-embed the gallery's faces with this recognizer, then switch it (no SOURCE)")
	fs.BoolVar(&ic.JSON, "json", false, "print the finished job as JSON on stdout")
	fs.BoolVar(&ic.Quiet, "quiet", false, "no progress bar")
	// A source may come before the flags: facematch ingest DIR --gallery 3.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		ic.Source, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 && ic.Source == "" {
		ic.Source = fs.Arg(0)
	}
	if !isFlagSet(fs, "threads") {
		mc.Threads = 1 // parallelism comes from the workers, one photo each
	}
	dc.AnyLocalPath = true
	if ic.Reprocess != "" {
		dc.Models = append(dc.Models, ic.Reprocess) // the target model must run
	}
	if err := errors.Join(mc.Validate(), dc.Validate(), ic.Validate()); err != nil {
		return err
	}
	st, err := m.openCommandApp(ctx, mc, dc)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := st.Service
	operator := engine.Actor{Name: "cli:" + currentUser(m.Getenv)}

	id := ic.Resume
	if id == 0 {
		if id, err = findOrCreateJob(ctx, svc, operator, ic); err != nil {
			return err
		}
	}
	jv, err := svc.Job(ctx, operator, id)
	if err != nil {
		return err
	}
	j := jv.Job
	fmt.Fprintf(m.Stderr, "job %d (%s of gallery %d): %s, %d of %d files done\n", j.ID, j.Kind, j.GalleryID, j.State, j.Processed, j.Total)
	var bar *progressbar.ProgressBar
	progress := func(j engine.Job) {
		if ic.Quiet {
			return
		}
		if bar == nil {
			bar = progressbar.NewOptions(j.Total, progressbar.OptionSetWriter(m.Stderr), progressbar.OptionSetDescription(fmt.Sprintf("job %d", j.ID)),
				progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("files"),
				progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond))
		}
		bar.ChangeMax(j.Total)
		bar.Set(j.Processed)
	}
	start := time.Now()
	before := j.Processed
	j, runErr := svc.RunJob(ctx, id, progress)
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(m.Stderr)
	}
	el := time.Since(start).Seconds()
	fmt.Fprintf(m.Stderr, "job %d %s: %d files (%d stored, %d duplicates, %d without a face, %d failed), %d faces, %d matches; this run %.1f files/s, peak RSS %d MiB\n",
		j.ID, j.State, j.Processed, j.Stored, j.Duplicates, j.NoFace, j.Failed, j.Faces, j.Matches, float64(j.Processed-before)/el, app.PeakRSS()>>20)
	if j.Failed > 0 {
		items, err := svc.JobItems(ctx, operator, j.ID, engine.ItemFailed, "", 20)
		if err == nil {
			for _, it := range items {
				fmt.Fprintf(m.Stderr, "  failed: %s: %s\n", it.Name, it.Reason)
			}
			if j.Failed > len(items) {
				fmt.Fprintf(m.Stderr, "  … %d more (GET /v1/jobs/%d/items?state=failed)\n", j.Failed-len(items), j.ID)
			}
		}
	}
	if ic.JSON {
		json.NewEncoder(m.Stdout).Encode(engine.ViewOf(j, time.Now()))
	}
	return runErr
}

// findOrCreateJob resumes an unfinished job with the same request, or creates one.
func findOrCreateJob(ctx context.Context, svc *engine.Service, a engine.Actor, ic ingestConfig) (int64, error) {
	req := engine.JobRequest{Kind: engine.IngestJob, GalleryID: ic.Gallery, Spec: engine.JobSpec{Source: ic.Source,
		CrossMatch: ic.CrossMatch, MinSim: float32(ic.MinSim), K: ic.K, Purpose: ic.Purpose}}
	if ic.Reprocess != "" {
		req.Kind, req.Spec = engine.ReprocessJob, engine.JobSpec{Model: ic.Reprocess, Purpose: ic.Purpose}
	} else if abs, err := filepath.Abs(ic.Source); err == nil && !strings.HasPrefix(ic.Source, "s3://") {
		req.Spec.Source = abs // the job may be resumed from another working directory
	}
	open, err := svc.Jobs(ctx, a, engine.JobFilter{GalleryID: ic.Gallery, State: []engine.JobState{engine.JobQueued, engine.JobRunning}, Limit: 500})
	if err != nil {
		return 0, err
	}
	for _, j := range open {
		if j.Kind == req.Kind && j.Spec.Source == req.Spec.Source && j.Spec.Model == req.Spec.Model {
			return j.ID, nil
		}
	}
	if ic.Meta != "" {
		format, err := source.MetaFormat(ic.Meta)
		if err != nil {
			return 0, err
		}
		if req.Meta, err = os.ReadFile(ic.Meta); err != nil {
			return 0, err
		}
		req.Spec.MetaFormat = format
	}
	j, err := svc.CreateJob(ctx, a, req)
	return j.ID, err
}

func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func currentUser(getenv func(string) string) string {
	if u := getenv("USER"); u != "" {
		return u
	}
	return strconv.Itoa(os.Getuid())
}

// runGalleryCreate creates a gallery on the data directory directly (for operators preparing
// an ingest without the service running); it prints the gallery as JSON.
func (m *Main) runGalleryCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gallery create", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var mc Config
	mc.bindModelFlags(fs, m.Getenv)
	var dc dataConfig
	dc.bind(fs, m.Getenv)
	name := fs.String("name", "", "gallery name (unique)")
	kind := fs.String("kind", "collection", "collection (ad photos) or reference (known persons)")
	model := fs.String("model", "", "recognizer the gallery is bound to (default: --recognizer)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if err := errors.Join(mc.Validate(), dc.Validate()); err != nil {
		return err
	}
	if *model != "" {
		dc.Models = append(dc.Models, *model)
	}
	st, err := m.openCommandApp(ctx, mc, dc)
	if err != nil {
		return err
	}
	defer st.Close()
	g, err := st.Service.CreateGallery(ctx, engine.Actor{Name: "cli:" + currentUser(m.Getenv)}, *name, engine.GalleryKind(*kind), *model)
	if err != nil {
		return err
	}
	return json.NewEncoder(m.Stdout).Encode(g)
}

// runCluster clusters collections' faces into suggested persons on the data directory (the
// service stopped, as for ingest; through the API while it runs: POST /v1/galleries/{id}/cluster).
func (m *Main) runCluster(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var mc Config
	mc.bindModelFlags(fs, m.Getenv)
	var dc dataConfig
	dc.bind(fs, m.Getenv)
	galleries := fs.String("gallery", "", "collection gallery IDs, comma-separated")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	var ids []int64
	for _, v := range engine.SplitList(*galleries) {
		var id int64
		if _, err := fmt.Sscan(v, &id); err != nil || id <= 0 {
			return fmt.Errorf("gallery must be positive integers, got %q", v)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 || fs.NArg() > 0 {
		fmt.Fprintln(m.Stderr, "usage: facematch cluster --gallery ID[,ID]")
		return errUsage
	}
	return m.onDataApp(ctx, mc, dc, func(st *app.App) error {
		for _, id := range ids {
			rep, err := st.Service.ClusterGallery(ctx, m.cliAdmin(), id)
			if err != nil {
				return err
			}
			if err := json.NewEncoder(m.Stdout).Encode(rep); err != nil {
				return err
			}
		}
		return nil
	})
}

// runHashPhotos gives the photos stored before repost hashes were kept their hashes, on the
// data directory (the service stopped).
func (m *Main) runHashPhotos(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hash-photos", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var mc Config
	mc.bindModelFlags(fs, m.Getenv)
	var dc dataConfig
	dc.bind(fs, m.Getenv)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(m.Stderr, "usage: facematch hash-photos")
		return errUsage
	}
	return m.onDataApp(ctx, mc, dc, func(st *app.App) error {
		rep, err := st.Service.HashStoredPhotos(ctx, m.cliAdmin(), nil)
		if err != nil {
			return err
		}
		return json.NewEncoder(m.Stdout).Encode(rep)
	})
}

// runAgeFaces gives the faces stored before apparent ages were kept (or while no age model
// ran) their estimates, on the data directory (the service stopped).
func (m *Main) runAgeFaces(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("age-faces", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var mc Config
	mc.bindModelFlags(fs, m.Getenv)
	var dc dataConfig
	dc.bind(fs, m.Getenv)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(m.Stderr, "usage: facematch age-faces")
		return errUsage
	}
	return m.onDataApp(ctx, mc, dc, func(st *app.App) error {
		rep, err := st.Service.AgeStoredFaces(ctx, m.cliAdmin())
		if err != nil {
			return err
		}
		return json.NewEncoder(m.Stdout).Encode(rep)
	})
}

// cliAdmin is the operator at the machine, acting on the data directory as an admin.
func (m *Main) cliAdmin() engine.Actor {
	return engine.Actor{Name: "cli:" + currentUser(m.Getenv), Role: engine.RoleAdmin}
}

// onDataApp validates the configuration, opens the data directory (taking its lock: the
// service stopped) and runs run on it, closing it after.
func (m *Main) onDataApp(ctx context.Context, mc Config, dc dataConfig, run func(*app.App) error) error {
	if err := errors.Join(mc.Validate(), dc.Validate()); err != nil {
		return err
	}
	st, err := m.openCommandApp(ctx, mc, dc)
	if err != nil {
		return err
	}
	defer st.Close()
	return run(st)
}
