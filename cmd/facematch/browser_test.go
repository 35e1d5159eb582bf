package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/testenv"
)

// The browser test drives the web interface in headless Chromium (Debian's chromium, installed
// by scripts/test) against the real binary, models and photos: an analyst searches, two
// reviewers decide with the keyboard, an auditor reads the log. Screenshots go to
// $FACEMATCH_ARTIFACTS (default test-artifacts/ at the repository root, not committed).

// chromiumPath finds the browser. Under scripts/test (FACEMATCH_REQUIRE_BROWSER=1) a missing
// browser fails the test instead of skipping it.
func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{os.Getenv("FACEMATCH_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("FACEMATCH_REQUIRE_BROWSER") == "1" {
		t.Fatal("no Chromium found: scripts/test installs Debian's chromium")
	}
	t.Skip("no Chromium found (scripts/test installs it)")
	return ""
}

func artifactsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("FACEMATCH_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless Chromium with one tab; it records every JavaScript error.
type browser struct {
	t      testing.TB
	ctx    context.Context
	base   string
	mu     sync.Mutex
	errors []string
}

func newBrowser(t testing.TB, base string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		// The machine has no internet: without these Chromium keeps trying Google's hosts.
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base}
	// Console subscribes as it returns: every message from here on is read by the goroutine,
	// which ends with the browser's context.
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s (%s:%d)", m.String(), m.URL, m.Line))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs steps, each within 30 s; a failure saves a screenshot and fails the test.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.shot("failure")
		b.t.Fatalf("browser: %v", err)
	}
}

func get[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.shot("failure")
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// consoleErrors fails the test on any JavaScript exception, console error or failed load so
// far.
func (b *browser) consoleErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("browser console: %s", e)
	}
}

// thumbsLoaded waits until every thumbnail inside sel that is in the viewport has loaded (they
// load lazily, as they scroll into view).
func (b *browser) thumbsLoaded(sel string) {
	b.t.Helper()
	js := fmt.Sprintf(`[...document.querySelectorAll(%q)].filter((i) => i.getBoundingClientRect().top < innerHeight).every((i) => i.complete && i.naturalWidth > 0)`, sel+" img.thumb")
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		b.shot("failure")
		b.t.Fatalf("thumbnails in %s did not load: %v", sel, err)
	}
}

func (b *browser) shot(name string) {
	if name == "failure" {
		b.mu.Lock()
		for _, e := range b.errors {
			b.t.Logf("browser console: %s", e)
		}
		b.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(artifactsDir(b.t), "ui-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.t.Logf("screenshot: %s", path)
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return get(b, chromedp.Text(chromedp.CSS(sel)))
}

func (b *browser) exists(sel string) bool {
	b.t.Helper()
	return get(b, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))) > 0
}

func (b *browser) hash() string {
	b.t.Helper()
	return get(b, chromedp.Evaluate[string](`location.hash`))
}

// waitText waits until sel's text contains want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.includes(%q); })()`, sel, want)
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		b.shot("failure")
		var now string
		if b.exists(sel) {
			now = b.text(sel)
		}
		b.t.Fatalf("waiting for %q in %s (now %q): %v", want, sel, now, err)
	}
}

func (b *browser) visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}

func (b *browser) key(k string, mods ...chromedp.Modifier) {
	b.t.Helper()
	var opts []chromedp.KeyOption
	if len(mods) > 0 {
		opts = append(opts, chromedp.KeyModifiers(mods...))
	}
	b.do(chromedp.KeyEvent(k, opts...))
}

func (b *browser) signIn(token string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base+"/ui/"), b.visible("#credential"),
		chromedp.SendKeys(chromedp.CSS("#credential"), token), chromedp.Click(chromedp.CSS("#signin-submit")),
		b.visible("#signout"))
}

func (b *browser) signOut() {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS("#signout")), b.visible("#credential"))
}

func (b *browser) open(hash string) {
	b.t.Helper()
	get(b, chromedp.Evaluate[string](fmt.Sprintf(`location.hash = %q`, hash)))
}

func TestBrowserReview(t *testing.T) {
	skipShort(t)
	testenv.RequireModels(t)
	chromiumPath(t)
	dataDir := t.TempDir()
	s := startService(t, []string{"--data-dir", dataDir}, nil)
	defer s.stop()

	admin := bootstrap
	tokens := s.tokens()
	ref := enrolPeople(t, s, tokens["ann"])
	seeded := seedPendingMatches(t, dataDir, 10_000)

	b := newBrowser(t, s.url)

	// The analyst searches with another photo of Katy Perry and sees her as the first candidate.
	b.signIn(tokens["ann"])
	b.waitText("h1", "Search a photo")
	probe := data("celebs", photos(t, "Katy_Perry")[2])
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#probe-file"), []string{probe}),
		chromedp.SendKeys(chromedp.CSS("#purpose"), "browser test: ad 4711"),
		chromedp.SendKeys(chromedp.CSS("#case-ref"), "CASE-UI-1"),
		chromedp.Click(chromedp.CSS("#ad-metadata summary")),
		chromedp.SendKeys(chromedp.CSS("#site"), "ads.example"),
		chromedp.SendKeys(chromedp.CSS("#usernames"), "kitty_k, kat"),
		chromedp.SendKeys(chromedp.CSS("#phones"), "+49 151 2345 6789"),
		chromedp.Click(chromedp.CSS("#search-submit")),
		b.visible("a.candidate"))
	if first := b.text("a.candidate"); !strings.Contains(first, "Katy Perry") || !strings.Contains(first, "high") && !strings.Contains(first, "medium") {
		t.Fatalf("first candidate: %q, want Katy Perry above the low band", first)
	}
	var matchID int64
	if _, err := fmt.Sscan(get(b, chromedp.AttributeValue(chromedp.CSS("a.candidate"), "data-match")).Value, &matchID); err != nil {
		t.Fatalf("the candidate link has no match ID: %v", err)
	}
	// Only Katy is above the gallery's threshold; the strangers below it are shown, and the
	// analyst sends two of them for review by hand.
	b.waitText("#thresholds", "become review items: at this gallery's size")
	b.waitText(".probe h3 + .cands, .probe", "1 for review")
	b.shot("search-results")
	for sent := 2; sent <= 3; sent++ {
		b.do(chromedp.Click(chromedp.CSS(".candidate.below button.send-review")))
		b.waitText(".probe", fmt.Sprintf("%d for review", sent))
	}
	// The queue grouped by probe face: the probe's three items on one card, Katy first.
	b.open("#/queue?status=pending,disputed&case=CASE-UI-1")
	b.do(chromedp.Click(chromedp.CSS("#group-by-probe")))
	b.waitText("h1", "Review queue by probe face")
	b.waitText(".probe h3 + .cands, .probe", "3 items")
	if first := b.text(".probe a.candidate"); !strings.Contains(first, "Katy Perry") {
		t.Errorf("the probe card's first item: %q, want Katy Perry", first)
	}
	b.thumbsLoaded(".probe")
	b.shot("queue-by-probe")

	// The analyst opens the match: no decision buttons, and the API refuses anyway.
	b.do(chromedp.Click(chromedp.CSS("a.candidate")), b.visible("#verdict"))
	if b.exists("#decide") || b.exists("#decide button") || !b.exists("#no-decide") {
		t.Errorf("the analyst sees decision controls")
	}
	b.key("1")
	if got := s.call("POST", fmt.Sprintf("/v1/matches/%d/decisions", matchID), tokens["ann"], map[string]string{"decision": "no_candidate"}, nil); got != 403 {
		t.Errorf("analyst deciding through the API: %d, want 403", got)
	}
	b.signOut()

	// Two reviewers decide it with the keyboard: the queue filtered by the case shows it first
	// (most similar first), j selects, Enter opens, 1 picks "potential candidate", the note is
	// typed and Ctrl+Enter records.
	for i, rev := range []string{"rev1", "rev2"} {
		b.signIn(tokens[rev])
		b.waitText("h1", "Review queue")
		if i == 0 {
			total := queueTotal(t, s, tokens[rev])
			if total < seeded {
				t.Fatalf("queue of %d, want at least the %d seeded", total, seeded)
			}
			b.waitText(".queue-count", "1–50 of "+commas(total))
			b.thumbsLoaded("#queue")
			// Where the review stands, per gallery and per case, above the queue.
			b.waitText("#review-counts summary", "waiting (by gallery and by case)")
			b.do(chromedp.Click(chromedp.CSS("#review-counts summary")))
			b.waitText("#review-counts", "CASE-UI-1")
			b.shot("queue-1280")
			b.key("]") // the next page, by keyboard
			b.waitText(".queue-count", "51–100")
		}
		b.open("#/queue?status=pending,disputed&case=CASE-UI-1&order=similarity&reviewable=true")
		b.waitText(".queue-count", "1–")
		b.key("j")
		b.key(kb.Enter)
		b.do(b.visible("#decide"))
		if got, want := b.hash(), fmt.Sprintf("#/match/%d", matchID); got != want {
			t.Fatalf("%s opened %s, want %s", rev, got, want)
		}
		if i == 0 {
			for _, want := range []string{"ads.example", "kitty_k, kat", "+4915123456789", "CASE-UI-1", "browser test: ad 4711"} {
				b.waitText("#probe", want) // the probe photo's ad metadata and the search's purpose
			}
			b.thumbsLoaded(".compare")
			b.shot("match-1280")
			if !get(b, chromedp.Evaluate[bool](`document.querySelector('#record').getBoundingClientRect().bottom <= window.innerHeight`)) {
				t.Errorf("the Record button is below the fold at 1280×800: %s", get(b, chromedp.Evaluate[string](`JSON.stringify([window.innerHeight, window.scrollY, document.querySelector("#record").getBoundingClientRect().bottom])`)))
			}
		}
		// 1 chooses a potential candidate and leaves the focus: keys still work, and Enter goes to
		// the note, which a potential candidate needs, before anything is sent.
		b.key("1")
		b.waitText("#decide-error", "needs a note: Enter to write it")
		if get(b, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ''`)) == "note" {
			t.Errorf("after 1 the note has the focus")
		}
		b.key(kb.Enter)
		b.do(chromedp.WaitReady(chromedp.CSS("#note:focus")))
		b.waitText("#decide-error", "needs a note")
		// In the note, Enter records (Shift+Enter would start a new line).
		b.do(chromedp.SendKeys(chromedp.CSS("#note"), "same ear shape and brow scar ("+rev+")"))
		b.key(kb.Enter)
		b.do(b.visible("#cannot-decide"))
		b.waitText("#notice", "Recorded potential candidate")
		if cls := get(b, chromedp.Evaluate[string](`document.querySelector('#cannot-decide').className`)); cls != "muted" {
			t.Errorf("after recording, the decider's note is styled %q, want muted (a state, not a refusal)", cls)
		}
		want := "pending"
		if i == 1 {
			want = "potential candidate"
		}
		b.waitText("#match-status", want)
		b.waitText("#decisions", "“same ear shape and brow scar ("+rev+")”")

		// Deciding twice: the page refuses the keys and says why, and the API refuses with 409.
		b.key("2")
		b.waitText("#notice", "already decided")
		if got := s.call("POST", fmt.Sprintf("/v1/matches/%d/decisions", matchID), tokens[rev], map[string]string{"decision": "no_candidate"}, nil); got != 409 {
			t.Errorf("%s deciding twice through the API: %d, want 409", rev, got)
		}
		b.signOut()
	}
	var m engine.Match
	s.mustCall(200, "GET", fmt.Sprintf("/v1/matches/%d", matchID), tokens["rev1"], nil, &m)
	if m.Status != engine.PotentialCandidate || len(m.Decisions) != 2 {
		t.Errorf("match after two reviewers: status %s with %d decisions, want potential_candidate with 2", m.Status, len(m.Decisions))
	}

	// The auditor sees both decisions and the refused second tries in the audit log.
	b.signIn(tokens["aud"])
	b.waitText("h1", "Audit log")
	b.open("#/audit?action=match.decide")
	b.waitText("#audit tbody", "rev2")
	got := b.text("#audit tbody")
	for _, rev := range []string{"rev1", "rev2"} {
		if !strings.Contains(got, rev) || !strings.Contains(got, fmt.Sprintf("match:%d", matchID)) {
			t.Errorf("audit log of match.decide lacks %s on match %d: %q", rev, matchID, got)
		}
	}
	b.open("#/audit?action=match.decide.refused")
	b.waitText("#audit tbody", "already decided")
	b.shot("audit-log")
	// The filtered range exports as CSV; the export is audited.
	b.do(chromedp.Click(chromedp.CSS("#export-csv")))
	b.waitText("#notice", "Exported as CSV")
	var exports struct {
		Items []struct {
			Actor, Input string
		} `json:"items"`
	}
	s.mustCall(200, "GET", "/v1/audit?action=audit.export", tokens["aud"], nil, &exports)
	if len(exports.Items) != 1 || exports.Items[0].Actor != "aud" || !strings.Contains(exports.Items[0].Input, `action="match.decide.refused"`) {
		t.Errorf("the CSV export's audit entry: %+v", exports.Items)
	}
	// A row's target opens the match it names, read-only: the decisions, no decision form.
	b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#audit a[href="#/match/%d"]`, matchID))))
	b.waitText("#decisions", "same ear shape and brow scar (rev2)")
	b.waitText("#no-decide", "Only reviewers decide matches")
	b.shot("auditor-match")
	b.signOut()

	// Adjudication: rev1 and rev2 disagree on another candidate of the probe; rev3 settles the
	// dispute by keyboard, with the note it needs, and the match is final.
	var view struct {
		Others []struct {
			ID int64 `json:"id"`
		} `json:"other_candidates"`
	}
	s.mustCall(200, "GET", fmt.Sprintf("/v1/matches/%d/view", matchID), tokens["rev1"], nil, &view)
	if len(view.Others) == 0 {
		t.Fatal("the probe has no other candidate to dispute")
	}
	disputed := view.Others[0].ID
	s.mustCall(200, "POST", fmt.Sprintf("/v1/matches/%d/decisions", disputed), tokens["rev1"], map[string]string{"decision": "no_candidate"}, nil)
	s.mustCall(200, "POST", fmt.Sprintf("/v1/matches/%d/decisions", disputed), tokens["rev2"], map[string]string{"decision": "inconclusive"}, nil)
	var rev3 struct {
		Secret string `json:"secret"`
	}
	s.mustCall(201, "POST", "/v1/tokens", admin, map[string]string{"name": "rev3", "role": "reviewer"}, &rev3)
	b.signIn(rev3.Secret)
	b.waitText("h1", "Review queue")
	b.open(fmt.Sprintf("#/match/%d", disputed))
	b.waitText("#decide", "Your decision settles the dispute")
	b.waitText("#decide", "close this probe's 2 other candidates as no candidate")
	b.key("2")
	b.waitText("#decide-error", "Settling a dispute needs a note")
	b.key(kb.Enter)
	b.do(chromedp.WaitReady(chromedp.CSS("#note:focus")))
	b.do(chromedp.SendKeys(chromedp.CSS("#note"), "different jaw line and ears"))
	b.key(kb.Enter)
	b.waitText("#match-status", "no candidate")
	b.waitText("#cannot-decide", "rev3 already decided this match (no candidate)")
	b.shot("adjudicated")
	b.signOut()

	// An operator's ingest job: the gallery pages show its photos and its progress, and its
	// cross-match's matches, whose probe is a stored collection photo, open like any other.
	var ads idObj
	s.mustCall(201, "POST", "/v1/galleries", admin, map[string]string{"name": "ads", "kind": "collection"}, &ads)
	job := runArchiveJob(t, s, tarOf(t, map[string]string{
		"ad-1.jpg": data("celebs", photos(t, "Angelina_Jolie")[1]), "ad-2.jpg": data("celebs", photos(t, "Elon_Musk")[1]),
		"ad-3.jpg": data("no_face", "mate_Garden.jpg"), "ad-4.jpg": data("celebs", photos(t, "Angelina_Jolie")[2])}),
		map[string]string{"kind": "ingest", "gallery_id": fmt.Sprint(ads.ID), "purpose": "browser test", "cross_match": fmt.Sprint(ref.ID)})
	// Two photos of one person: one item for them (per person and subject, not per photo).
	if job.State != engine.JobDone || job.Stored != 3 || job.NoFace != 1 || job.Matches != 2 {
		t.Fatalf("ingest job: %+v", job)
	}
	b.signIn(admin)
	b.waitText("#galleries", "ads")
	b.open(fmt.Sprintf("#/gallery/%d?tab=jobs", ads.ID))
	b.waitText("#jobs", "4/4")
	b.waitText("#jobs", "done")
	b.shot("gallery-jobs")
	b.open(fmt.Sprintf("#/gallery/%d?tab=photos", ads.ID))
	b.do(b.visible(".card"))
	b.thumbsLoaded(".grid")
	b.shot("gallery-photos")
	b.open(fmt.Sprintf("#/gallery/%d?tab=subjects", ref.ID))
	b.waitText("#subjects", "Katy Perry")
	b.do(chromedp.Click(chromedp.CSS("#subjects tr.row")), b.visible(".card"))
	b.waitText("h2", "Katy Perry: faces and photos")
	// The reference gallery's photos name their subject; its header counts its subjects.
	b.open(fmt.Sprintf("#/gallery/%d?tab=photos", ref.ID))
	b.waitText(".grid", "Katy Perry")
	b.waitText("p.muted", "subjects")
	b.thumbsLoaded(".grid")
	b.shot("reference-photos")
	b.open(fmt.Sprintf("#/queue?job=%d&status=", job.ID))
	b.waitText(".queue-count", fmt.Sprintf("of %d", job.Matches))
	b.do(chromedp.Click(chromedp.CSS("#queue tr.row")), b.visible("#verdict"))
	b.waitText("#probe", fmt.Sprintf("cross-matched by job %d", job.ID))
	// A job into a collection proposes persons: the item lists the person's photos behind it.
	b.waitText("#support", "behind this item")
	b.do(chromedp.ScrollIntoView("#support"))
	b.thumbsLoaded("#support")
	b.shot("match-job-item")
	if b.exists("#decide") || !b.exists("#no-decide") {
		t.Errorf("the admin sees decision controls")
	}
	b.signOut()

	// A 1920-wide screen: the same pages as the first reviewer.
	b.do(chromedp.EmulateViewport(1920, 1080))
	b.signIn(tokens["rev1"])
	b.waitText(".queue-count", "of")
	b.thumbsLoaded("#queue")
	b.shot("queue-1920")
	b.open(fmt.Sprintf("#/match/%d", matchID))
	b.do(b.visible("#cannot-decide"))
	b.key("f") // both full photos, each opening audited
	b.do(b.visible("#probe .photo img"), b.visible("#candidate .photo img"))
	b.thumbsLoaded(".compare")
	b.shot("match-1920")
	b.consoleErrors()

	var audit struct {
		Items []engine.AuditEntry `json:"items"`
	}
	s.mustCall(200, "GET", "/v1/audit?action=search.photo.view", tokens["aud"], nil, &audit)
	if len(audit.Items) != 1 || audit.Items[0].Actor != "rev1" {
		t.Errorf("opening the probe photo was not audited once for rev1: %+v", audit.Items)
	}
}

// enrolPeople makes a reference gallery "wanted" of five people, one photo each, with the
// analyst's credential, and returns it.
func enrolPeople(t testing.TB, s *service, analyst string) idObj {
	t.Helper()
	var ref idObj
	s.mustCall(201, "POST", "/v1/galleries", bootstrap, map[string]string{"name": "wanted", "kind": "reference"}, &ref)
	for _, p := range []string{"Katy_Perry", "Angelina_Jolie", "Mark_Zuckerberg", "Scarlett_Johansson", "Elon_Musk"} {
		var sub idObj
		s.mustCall(201, "POST", fmt.Sprintf("/v1/galleries/%d/subjects", ref.ID), analyst,
			map[string]string{"name": strings.ReplaceAll(p, "_", " "), "external_ref": "notice-" + p}, &sub)
		s.mustCall(201, "POST", fmt.Sprintf("/v1/galleries/%d/images", ref.ID), analyst,
			form(t, photos(t, p)[0], map[string]string{"subject_id": fmt.Sprint(sub.ID)}), nil)
	}
	return ref
}

// BenchmarkQueuePage measures the review queue page in headless Chromium over 10,005 pending
// matches, as a reviewer turns between its first two pages: from the page asked for (a hash
// change) to its 50 rows and count drawn, the API calls included. Thumbnails load afterwards,
// as they scroll into view, and are not counted. ms/page is measured inside the page
// (performance.now), without the DevTools round trip that ns/op includes.
//
//	go test -run '^$' -bench QueuePage -benchtime 40x ./cmd/facematch
func BenchmarkQueuePage(b *testing.B) {
	testenv.RequireModels(b)
	chromiumPath(b)
	dataDir := b.TempDir()
	s := startService(b, []string{"--data-dir", dataDir}, nil)
	defer s.stop()
	tokens := s.tokens()
	enrolPeople(b, s, tokens["ann"])
	seedPendingMatches(b, dataDir, 10_000)
	br := newBrowser(b, s.url)
	br.signIn(tokens["rev1"])
	br.waitText(".queue-count", "1–50 of")
	var total float64
	for i := 0; b.Loop(); i++ {
		page, want := (i+1)%2, "1–50 of"
		if page == 1 {
			want = "51–100 of"
		}
		js := fmt.Sprintf(`new Promise((done) => {
			const t0 = performance.now();
			location.hash = %q;
			const drawn = () => {
				const e = document.querySelector('.queue-count');
				if (e && e.isConnected && e.textContent.startsWith(%q) && document.querySelectorAll('#queue tr.row').length === 50) done(performance.now() - t0);
				else requestAnimationFrame(drawn);
			};
			drawn();
		})`, fmt.Sprintf("#/queue?page=%d", page), want)
		total += get(br, chromedp.Evaluate[float64](js, chromedp.EvalAwaitPromise))
	}
	b.ReportMetric(total/float64(b.N), "ms/page")
	br.consoleErrors()
}

// seedPendingMatches writes n pending matches straight into the service's metadata database
// (SQLite allows a second writer): searches by another analyst whose probes are the reference
// faces themselves. It returns n.
func seedPendingMatches(t testing.TB, dataDir string, n int) int {
	t.Helper()
	ctx := context.Background()
	cat := openDataCatalog(t, dataDir)
	gs, err := cat.Galleries(ctx)
	if err != nil || len(gs) == 0 {
		t.Fatalf("galleries: %v", err)
	}
	var faces []engine.StoredFace
	for cursor := int64(0); ; {
		imgs, err := cat.Images(ctx, engine.ImageFilter{GalleryID: gs[0].ID, Cursor: cursor, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(imgs) == 0 {
			break
		}
		for _, img := range imgs {
			fs, err := cat.Faces(ctx, img.ID)
			if err != nil {
				t.Fatal(err)
			}
			faces = append(faces, fs...)
			cursor = img.ID
		}
	}
	per := len(faces)
	probes := make([]engine.ProbeFace, n/per)
	var cands []engine.Candidate
	for i := range probes {
		probes[i] = engine.ProbeFace{ThumbKey: faces[i%per].ThumbKey} // any real thumbnail: the page loads them
		for j, f := range faces {
			cands = append(cands, engine.Candidate{ProbeIndex: i, FaceID: f.ID, Similarity: 0.2 + 0.6*float32((i*per+j)%997)/997, Rank: j + 1, Review: true})
		}
	}
	rec := engine.SearchRecord{Actor: "seed-analyst", Purpose: "load: a large review queue", Galleries: []int64{gs[0].ID}, K: per,
		ProbeSHA256: strings.Repeat("0", 64), CreatedAt: time.Now().Add(-time.Hour)}
	if _, _, ms, err := cat.RecordSearch(ctx, rec, probes, cands); err != nil || len(ms) != len(cands) {
		t.Fatalf("seed: %d matches, %v", len(ms), err)
	}
	return len(cands)
}

// queueTotal is the review queue's size as the API counts it for token.
func queueTotal(t testing.TB, s *service, token string) int {
	t.Helper()
	var p struct {
		Total int `json:"total"`
	}
	s.mustCall(200, "GET", "/v1/matches?status=pending,disputed&reviewable=true&limit=1", token, nil, &p)
	return p.Total
}

func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
