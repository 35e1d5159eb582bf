package main

import (
	"archive/zip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/testenv"
)

// TestBrowserConsole drives the admin console in headless Chromium: credentials (the secret
// shown once, sign-in with it, revocation), galleries, a reference gallery's subjects (edit,
// enrolment through the face picker, removal), an ingest job from an uploaded zip with a
// sidecar, and a gallery's deletion by its typed name. API refusals show next to their form.
func TestBrowserConsole(t *testing.T) {
	skipShort(t)
	testenv.RequireModels(t)
	chromiumPath(t)
	s := startService(t, []string{"--data-dir", t.TempDir()}, nil)
	defer s.stop()
	admin := bootstrap
	b := newBrowser(t, s.url)
	b.signIn(admin)
	b.waitText("h1", "Galleries")

	// Credentials: a reviewer's secret is shown once, in its box, and works.
	b.open("#/credentials")
	b.waitText("#credentials", "bootstrap")
	b.do(chromedp.SendKeys(chromedp.CSS("#cred-name"), "temp-reviewer"), chromedp.SetValue(chromedp.CSS("#cred-role"), "reviewer"),
		chromedp.Click(chromedp.CSS("#cred-submit")), b.visible("#secret-box"))
	b.waitText("#secret-box", "shown this once")
	secret := get(b, chromedp.Value(chromedp.CSS("#secret")))
	if !strings.HasPrefix(secret, "fm_") {
		t.Fatalf("the secret box shows %q", secret)
	}
	b.waitText("#credentials", "temp-reviewer")
	b.shot("console-credentials-1280")
	// A second credential of the same name: the API's refusal shows under the form.
	b.do(chromedp.SendKeys(chromedp.CSS("#cred-name"), "Temp-Reviewer"), chromedp.Click(chromedp.CSS("#cred-submit")))
	b.waitText("#cred-error", "already exists")
	b.do(chromedp.Click(chromedp.CSS("#secret-done")), chromedp.WaitNotPresent(chromedp.CSS("#secret-box")))
	if get(b, chromedp.Evaluate[bool](fmt.Sprintf(`document.documentElement.outerHTML.includes(%q) || JSON.stringify(sessionStorage).includes(%q)`, secret, secret))) {
		t.Errorf("the secret is still in the page or the tab's storage after its box was closed")
	}
	b.signOut()
	b.signIn(secret)
	b.waitText("h1", "Review queue")
	b.waitText("#who", "temp-reviewer (reviewer)")
	b.signOut()

	// Rotated, after a confirmation: a new secret, once, and the old one stops working.
	b.signIn(admin)
	b.open("#/credentials")
	row := `#credentials tr[data-credential="temp-reviewer"]`
	b.do(chromedp.Click(chromedp.CSS(row+" button.rotate")), chromedp.Click(chromedp.CSS(row+" .confirm-yes")), b.visible("#secret-box"))
	b.waitText("#secret-box", "rotated")
	old := secret
	secret = get(b, chromedp.Value(chromedp.CSS("#secret")))
	if secret == old || !strings.HasPrefix(secret, "fm_") {
		t.Fatalf("the rotated secret is %q", secret)
	}
	if st := s.call("GET", "/v1/me", old, nil, nil); st != 401 {
		t.Errorf("the secret before rotation answers %d, want 401", st)
	}
	if st := s.call("GET", "/v1/me", secret, nil, nil); st != 200 {
		t.Errorf("the rotated secret answers %d, want 200", st)
	}

	// Revoked, after a confirmation, the credential no longer signs in.
	b.do(chromedp.Click(chromedp.CSS(row+" button.revoke")), b.visible(row+" .confirm-yes"))
	b.waitText(row, "stops working at once")
	b.shot("console-revoke-confirm-1280")
	b.do(chromedp.Click(chromedp.CSS(row + " .confirm-yes")))
	b.waitText(row, "revoked")
	b.signOut()
	b.do(chromedp.SendKeys(chromedp.CSS("#credential"), secret), chromedp.Click(chromedp.CSS("#signin-submit")))
	b.waitText("#signin-error", "unknown or revoked")
	b.signIn(admin)

	// Galleries: a reference gallery; the same name again is refused next to the form.
	b.open("#/galleries")
	b.do(chromedp.SendKeys(chromedp.CSS("#gallery-name"), "notices"), chromedp.SetValue(chromedp.CSS("#gallery-kind"), "reference"),
		chromedp.Click(chromedp.CSS("#gallery-submit")))
	b.waitText("h1", "notices")
	var ref int64
	if _, err := fmt.Sscanf(b.hash(), "#/gallery/%d", &ref); err != nil {
		t.Fatalf("after creating a gallery the page is %s", b.hash())
	}
	b.open("#/galleries")
	b.do(chromedp.SendKeys(chromedp.CSS("#gallery-name"), "notices"), chromedp.Click(chromedp.CSS("#gallery-submit")))
	b.waitText("#gallery-error", "already exists")
	b.shot("console-galleries-1280")

	// An analyst's credential for a while, in that gallery alone; then widened to all galleries.
	b.open("#/credentials")
	until := time.Now().AddDate(0, 0, 14).Format("2006-01-02")
	b.do(b.visible("#cred-name"), chromedp.SendKeys(chromedp.CSS("#cred-name"), "temp-analyst"))
	b.choose("#cred-role", "analyst")
	b.do(chromedp.SetValue(chromedp.CSS("#cred-expires"), until),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#cred-form input[name="cred-gallery"][value="%d"]`, ref))),
		chromedp.Click(chromedp.CSS("#cred-submit")), b.visible("#secret-box"))
	arow := `#credentials tr[data-credential="temp-analyst"]`
	b.waitText(arow+" td.galleries", "notices")
	tokenOf := func(name string) engine.Token {
		var toks struct {
			Tokens []engine.Token `json:"tokens"`
		}
		s.mustCall(200, "GET", "/v1/tokens", admin, nil, &toks)
		for _, tk := range toks.Tokens {
			if tk.Name == name {
				return tk
			}
		}
		t.Fatalf("no credential %s", name)
		return engine.Token{}
	}
	if tk := tokenOf("temp-analyst"); tk.ExpiresAt == nil || tk.ExpiresAt.Local().Format("2006-01-02") != until || len(tk.Galleries) != 1 || tk.Galleries[0] != ref {
		t.Errorf("temp-analyst: expires %v, galleries %v; want the end of %s and [%d]", tk.ExpiresAt, tk.Galleries, until, ref)
	}
	b.do(chromedp.Click(chromedp.CSS(arow+" button.scope")), b.visible(arow+" .scope-edit"))
	b.shot("console-scope-1280")
	b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`%s input[name="scope-gallery"][value="%d"]`, arow, ref))),
		chromedp.Click(chromedp.CSS(arow+" .scope-edit ~ button.primary")))
	b.waitText(arow+" td.galleries", "all galleries")
	if tk := tokenOf("temp-analyst"); tk.Galleries != nil {
		t.Errorf("temp-analyst still limited to %v", tk.Galleries)
	}

	// A subject: created, renamed, enrolled from a group photo through the face picker, removed.
	b.open(fmt.Sprintf("#/gallery/%d?tab=subjects", ref))
	b.do(b.visible("#subject-name"), chromedp.SendKeys(chromedp.CSS("#subject-name"), "Jane Roe"), chromedp.SendKeys(chromedp.CSS("#subject-ref"), "N-2026-17"),
		chromedp.Click(chromedp.CSS("#subject-submit")))
	b.waitText("#subject-panel h2", "Jane Roe")
	var sub int64
	if _, err := fmt.Sscanf(b.hash(), fmt.Sprintf("#/gallery/%d?tab=subjects&subject=%%d", ref), &sub); err != nil {
		t.Fatalf("after creating a subject the page is %s", b.hash())
	}
	b.do(chromedp.Clear(chromedp.CSS("#edit-name")), chromedp.SendKeys(chromedp.CSS("#edit-name"), "Jane Q. Roe"), chromedp.Click(chromedp.CSS("#edit-submit")))
	b.waitText("#subject-panel h2", "Jane Q. Roe")
	b.waitText("#subjects", "Jane Q. Roe")
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#enrol-file"), []string{data("group_photos", "faceapi_bbt1.jpg")}), chromedp.Click(chromedp.CSS("#enrol-submit")))
	b.do(b.visible("#face-picker .face-choice:not(:disabled)"))
	b.waitText("#face-picker", "Click Jane Q. Roe")
	if n := get(b, chromedp.Evaluate[int](`document.querySelectorAll('#face-picker .face-choice').length`)); n < 2 {
		t.Fatalf("the face picker shows %d faces, want the group photo's", n)
	}
	b.thumbsLoaded("#face-picker")
	b.shot("console-face-picker-1280")
	b.do(chromedp.Click(chromedp.CSS("#face-picker .face-choice:not(:disabled)")))
	b.waitText("#subject-faces", "1 face")
	var got engine.Subject
	s.mustCall(200, "GET", fmt.Sprintf("/v1/subjects/%d", sub), admin, nil, &got)
	if got.Faces != 1 || got.Name != "Jane Q. Roe" || got.ExternalRef != "N-2026-17" {
		t.Fatalf("subject after enrolment: %+v, want Jane Q. Roe with 1 face", got)
	}
	b.thumbsLoaded("#subject-panel")
	b.shot("console-subject-1280")
	b.do(chromedp.Click(chromedp.CSS("#subject-panel .remove-photo")), chromedp.Click(chromedp.CSS("#subject-panel .confirm-yes")))
	b.waitText("#subject-faces", "0 faces")

	// The gallery's review threshold: a stricter target and the children's line, saved and
	// explained in words.
	b.open(fmt.Sprintf("#/gallery/%d?tab=policy", ref))
	b.waitText("#policy-meaning", "1 in 100 searches of a stranger")
	b.do(chromedp.SetValue(chromedp.CSS("#target-fpir"), "0.1"), chromedp.Click(chromedp.CSS("#minors")), chromedp.Click(chromedp.CSS("#policy-save")))
	b.waitText("#policy-meaning", "1 in 1,000 searches of a stranger")
	b.waitText("#policy-meaning", "gallery of children")
	var policy struct {
		TargetFPIR float64 `json:"target_fpir"`
		Minors     bool    `json:"minors"`
	}
	s.mustCall(200, "GET", fmt.Sprintf("/v1/galleries/%d", ref), admin, nil, &policy)
	if policy.TargetFPIR != 0.001 || !policy.Minors {
		t.Errorf("policy after saving: %+v, want 0.001 and minors", policy)
	}
	b.shot("console-policy-1280")

	// Retention: finished searches kept 90 days; a negative period is refused under the form.
	b.open("#/retention")
	b.waitText("#retention-now", "kept for ever")
	b.do(chromedp.SetValue(chromedp.CSS("#search-days"), "-3"), chromedp.Click(chromedp.CSS("#retention-save")))
	b.waitText("#retention-error", "search_days must be in [0, 36500]")
	b.do(chromedp.SetValue(chromedp.CSS("#search-days"), "90"), chromedp.Click(chromedp.CSS("#retention-save")))
	b.waitText("#retention-now", "deleted 90 days after")
	var retention struct {
		SearchDays int `json:"search_days"`
	}
	s.mustCall(200, "GET", "/v1/settings/retention", admin, nil, &retention)
	if retention.SearchDays != 90 {
		t.Errorf("retention after saving: %+v", retention)
	}
	b.shot("console-retention-1280")

	// An ingest job from an uploaded zip with a CSV sidecar; its files, the failed one with its
	// reason. A refused job's reason shows under the form.
	var ads idObj
	s.mustCall(201, "POST", "/v1/galleries", admin, map[string]string{"name": "ads", "kind": "collection"}, &ads)
	dir := t.TempDir()
	archive := zipOf(t, filepath.Join(dir, "ads.zip"), map[string]string{
		"ad-1.jpg": data("celebs", photos(t, "Angelina_Jolie")[1]), "ad-2.jpg": data("celebs", photos(t, "Elon_Musk")[1]),
		"ad-3.jpg": data("no_face", "mate_Garden.jpg")}, map[string]string{"broken.jpg": "not a photo"})
	sidecar := filepath.Join(dir, "ads.csv")
	if err := os.WriteFile(sidecar, []byte("file,site,usernames,phones,case_ref\nad-1.jpg,ads.example,Kitty_K,+49 151 2345 6789,CASE-9\nad-2.jpg,ads.example,,,CASE-9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.open("#/jobs")
	b.do(b.visible("#job-form"), chromedp.SetValue(chromedp.CSS("#job-gallery"), fmt.Sprint(ads.ID)))
	b.choose("#job-from", "path")
	b.do(chromedp.SendKeys(chromedp.CSS("#job-source"), "cases/0412"), chromedp.SendKeys(chromedp.CSS("#job-purpose"), "console test"),
		chromedp.Click(chromedp.CSS("#job-submit")))
	b.waitText("#job-error", "this service reads no local paths")
	b.choose("#job-from", "archive")
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#job-archive"), []string{archive}), chromedp.SetUploadFiles(chromedp.CSS("#job-meta"), []string{sidecar}),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#job-form input[name="cross-match"][value="%d"]`, ref))))
	b.shot("console-job-form-1280")
	b.do(chromedp.Click(chromedp.CSS("#job-submit")))
	b.waitText("#job-items h2", "files")
	var job int64
	if _, err := fmt.Sscanf(b.hash(), "#/jobs?job=%d", &job); err != nil {
		t.Fatalf("after starting a job the page is %s", b.hash())
	}
	jobRow := fmt.Sprintf(`#jobs tr[data-job="%d"]`, job)
	waitLong(b, jobRow+" td.state", "done", 3*time.Minute)
	b.waitText("#job-items", "ad-1.jpg")
	b.waitText("#job-items", "broken.jpg")
	b.open(fmt.Sprintf("#/jobs?job=%d&state=failed", job))
	b.waitText("#job-items", "broken.jpg")
	if txt := b.text("#job-items tbody"); strings.Contains(txt, "ad-1.jpg") || len(strings.TrimSpace(strings.SplitN(txt, "broken.jpg", 2)[1])) < 10 {
		t.Errorf("failed files: %q, want broken.jpg alone with its reason", txt)
	}
	b.shot("console-jobs-1280")
	var v engine.JobView
	s.mustCall(200, "GET", fmt.Sprintf("/v1/jobs/%d", job), admin, nil, &v)
	if v.State != engine.JobDone || v.Stored != 2 || v.NoFace != 1 || v.Failed != 1 || v.CreatedBy != engine.BootstrapAdmin {
		t.Errorf("job: %+v", v)
	}
	var imgs struct {
		Items []engine.ImageFaces `json:"items"`
	}
	s.mustCall(200, "GET", fmt.Sprintf("/v1/galleries/%d/images", ads.ID), admin, nil, &imgs)
	for _, it := range imgs.Items {
		if it.Image.Source.Site != "ads.example" || it.Image.Source.CaseRef != "CASE-9" {
			t.Errorf("photo %d's source %+v: the sidecar was not applied", it.Image.ID, it.Image.Source)
		}
	}

	// Persons: two more photos of Angelina Jolie in the collection join the job's photo of her
	// as they are stored: one suggested person of her three photos, its ads' phone listed with
	// its count; clustered again from the page, the same.
	for _, ph := range photos(t, "Angelina_Jolie")[2:4] {
		s.mustCall(201, "POST", fmt.Sprintf("/v1/galleries/%d/images", ads.ID), admin,
			form(t, ph, map[string]string{"site": "ads.example", "phones": "+49 151 2345 6789"}), nil)
	}
	b.open(fmt.Sprintf("#/gallery/%d?tab=persons", ads.ID))
	b.waitText("#persons h2", "1 suggested person")
	b.waitText("#persons a.candidate", "3 photos")
	b.do(chromedp.Click(chromedp.CSS("#cluster-run")))
	b.waitText("#notice", "Clustered")
	b.waitText("#persons h2", "1 suggested person")
	b.waitText("#persons a.candidate", "3 photos")
	b.thumbsLoaded("#persons")
	b.shot("console-persons-1280")
	b.do(chromedp.Click(chromedp.CSS("#persons a.candidate")))
	b.waitText("h1", "Suggested person")
	b.waitText("#person-contacts", "+4915123456789")
	b.waitText("#person-links", "No other person shares")
	personHash := b.hash()

	// A reviewer confirms the person, with a note.
	var rev struct {
		Secret string `json:"secret"`
	}
	s.mustCall(201, "POST", "/v1/tokens", admin, map[string]string{"name": "rev-persons", "role": "reviewer"}, &rev)
	b.signOut()
	b.signIn(rev.Secret)
	b.open(personHash)
	b.do(b.visible("#person-confirm"))
	b.thumbsLoaded("#person-faces")
	// From the keyboard: the third face picked and split off, then the person confirmed.
	b.do(chromedp.SendKeys(chromedp.CSS("#person-note"), "the third ad shows a younger woman"))
	b.key(kb.Escape)
	for _, k := range []string{"j", "j", "j", "x"} {
		b.key(k)
	}
	b.waitText("#person-split", "Split 1 picked face")
	b.shot("console-person-pick-1280")
	b.key("s")
	b.waitText("#notice", "Split: the picked faces are now person")
	b.waitText("#person-split", "Split the picked faces into") // the page drawn again
	if n := get(b, chromedp.Evaluate[int](`document.querySelectorAll('#person-faces .face-card').length`)); n != 2 {
		t.Errorf("after the split the person shows %d faces, want 2", n)
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#person-note"), "same face, same phone in both ads"))
	b.key(kb.Escape)
	b.key("c")
	b.waitText("#person-state", "Confirmed by rev-persons")
	b.shot("console-person-confirmed-1280")
	b.signOut()

	// An analyst searches the person as a whole in the reference galleries.
	var ana struct {
		Secret string `json:"secret"`
	}
	s.mustCall(201, "POST", "/v1/tokens", admin, map[string]string{"name": "ana-persons", "role": "analyst"}, &ana)
	b.signIn(ana.Secret)
	b.open(personHash)
	b.do(b.visible("#person-search-run"), chromedp.SendKeys(chromedp.CSS("#person-purpose"), "case 9: who is this?"),
		chromedp.Click(chromedp.CSS("#person-search-run")))
	b.waitText("h1", "Search ")
	b.waitText(".page", "across ads: case 9")
	b.shot("console-person-search-1280")
	b.signOut()
	b.signIn(admin)
	b.thumbsLoaded("#person-faces")
	b.shot("console-person-1280")
	// The persons list by cross-match: the person's item against the reference gallery shows.
	var scored struct {
		Persons []engine.Person `json:"persons"`
	}
	s.mustCall(200, "GET", fmt.Sprintf("/v1/galleries/%d/persons?order=score", ads.ID), admin, nil, &scored)
	b.open(fmt.Sprintf("#/gallery/%d?tab=persons&order=score", ads.ID))
	b.waitText("#persons a.button.primary", "Best cross-match first")
	if len(scored.Persons) > 0 && scored.Persons[0].CrossMatch != nil {
		b.waitText("#persons .cross-match", fmt.Sprintf("%d review item", scored.Persons[0].CrossMatch.Items))
	}
	b.shot("console-persons-by-score-1280")

	// Look-up: the phone written another way, then the username in another case, find the ad.
	b.open("#/lookup")
	b.do(chromedp.SetValue(chromedp.CSS("#lookup-value"), "0049 151 23456789"), chromedp.Click(chromedp.CSS("#lookup-submit")))
	b.waitText("#lookup-summary", "3 photos carry phone +4915123456789")
	b.waitText("#lookup-results", "Kitty_K") // as the sidecar wrote it
	b.shot("console-lookup-1280")
	b.choose("#lookup-kind", "username")
	b.do(chromedp.SetValue(chromedp.CSS("#lookup-value"), "KITTY_k"), chromedp.SetValue(chromedp.CSS("#lookup-site"), "ads.example"), chromedp.Click(chromedp.CSS("#lookup-submit")))
	b.waitText("#lookup-summary", "site username ads.example/kitty_k")
	b.open("#/lookup?kind=phone&value=0151%20call%20me") // a link with a bad phone: the refusal, under the form
	b.waitText("#lookup-error", "a phone number has only digits")

	// Deletion by the gallery's typed name: the button waits for the exact name.
	b.open(fmt.Sprintf("#/gallery/%d?tab=delete", ads.ID))
	b.waitText("#delete-panel", "4 photos")
	disabled := func() bool {
		return get(b, chromedp.Evaluate[bool](`document.querySelector('#delete-gallery').disabled`))
	}
	if !disabled() {
		t.Fatal("the delete button is enabled before the name is typed")
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#delete-confirm"), "ad"))
	if !disabled() {
		t.Fatal("the delete button is enabled by part of the name")
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#delete-confirm"), "s"))
	if disabled() {
		t.Fatal("the delete button stays disabled with the name typed")
	}
	b.shot("console-delete-1280")
	b.do(chromedp.Click(chromedp.CSS("#delete-gallery")))
	b.waitText("h1", "Galleries")
	b.waitText("#notice", "Deleted gallery ads")
	if st := s.call("GET", fmt.Sprintf("/v1/galleries/%d", ads.ID), admin, nil, nil); st != 404 {
		t.Errorf("the deleted gallery answers %d, want 404", st)
	}
	// The refusals the test provoked are logged by Chromium as failed loads; anything else fails.
	b.consoleErrorsExcept("409 (Conflict) (%s/v1/tokens:", "401 (Unauthorized) (%s/v1/me:", "409 (Conflict) (%s/v1/galleries:",
		fmt.Sprintf("409 (Conflict) (%%s/v1/galleries/%d/images:", ref), "422 (Unprocessable Entity) (%s/v1/jobs:",
		"422 (Unprocessable Entity) (%s/v1/settings/retention:", "422 (Unprocessable Entity) (%s/v1/lookup?phone=0151+call+me:")
}

// consoleErrorsExcept is consoleErrors, but a failed load in expected (each a format of the
// service's URL) is allowed once: the page answered it with the API's refusal.
func (b *browser) consoleErrorsExcept(expected ...string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	left := map[string]bool{}
	for _, e := range expected {
		left[fmt.Sprintf(e, b.base)] = true
	}
next:
	for _, e := range b.errors {
		for want := range left {
			if strings.Contains(e, "Failed to load resource: the server responded with a status of "+want) {
				delete(left, want)
				continue next
			}
		}
		b.t.Errorf("browser console: %s", e)
	}
}

// zipOf writes a zip archive at path of files (name → path on disk) and raw entries (name →
// content), and returns path.
func zipOf(t *testing.T, path string, files, raw map[string]string) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	add := func(name string, b []byte) {
		w, err := zw.Create(name)
		if err == nil {
			_, err = w.Write(b)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		add(name, b)
	}
	for name, content := range raw {
		add(name, []byte(content))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// choose selects value in the select sel as a user does: its change event fires.
func (b *browser) choose(sel, value string) {
	b.t.Helper()
	get(b, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q; return e.dispatchEvent(new Event('change')); })()`, sel, value)))
}

// waitLong is waitText with a longer patience, for a job on the real models.
func waitLong(b *browser, sel, want string, d time.Duration) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.includes(%q); })()`, sel, want)
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(d))); err != nil {
		b.shot("failure")
		b.t.Fatalf("waiting for %q in %s: %v", want, sel, err)
	}
}
