package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/facematch/facematch/engine"
	"github.com/facematch/facematch/internal/testenv"
)

// TestBrowserCaseReport: the person page's and the match view's "Case report" buttons download
// one HTML file each (named by the server), which Chromium then opens from disk with nothing
// else at hand: every image shows, the hostile username reads as text, no script runs and no
// request leaves the file. Screenshots of both reports at 1280×800 go to the artifacts.
func TestBrowserCaseReport(t *testing.T) {
	skipShort(t)
	testenv.RequireModels(t)
	chromiumPath(t)
	s := startService(t, []string{"--data-dir", t.TempDir()}, nil)
	defer s.stop()
	tokens := s.tokens()
	ref := enrolPeople(t, s, tokens["ann"])

	// Three ads of Angelina Jolie, one username hostile, clustered into a suggested person.
	const hostile = `<script>document.title="owned"</script>kitty`
	var ads idObj
	s.mustCall(201, "POST", "/v1/galleries", bootstrap, map[string]string{"name": "ads", "kind": "collection"}, &ads)
	for i, ph := range photos(t, "Angelina_Jolie")[1:4] {
		s.mustCall(201, "POST", fmt.Sprintf("/v1/galleries/%d/images", ads.ID), tokens["ann"], form(t, ph, map[string]string{
			"site": "ads.example", "usernames": hostile, "phones": "+49 151 2345 6789", "source_url": fmt.Sprintf("https://ads.example/ad/%d", 4711+i),
			"posted_at": fmt.Sprintf("2026-0%d-12", i+3), "case_ref": "CASE-9"}), nil)
	}
	s.mustCall(200, "POST", fmt.Sprintf("/v1/galleries/%d/cluster", ads.ID), bootstrap, nil, nil)
	var persons struct {
		Persons []engine.Person `json:"persons"`
	}
	s.mustCall(200, "GET", fmt.Sprintf("/v1/galleries/%d/persons", ads.ID), tokens["ann"], nil, &persons)
	if len(persons.Persons) != 1 || persons.Persons[0].Size != 3 {
		t.Fatalf("persons: %+v, want one of Angelina Jolie's three ads", persons.Persons)
	}
	person := persons.Persons[0].ID
	// A match: another photo of Katy Perry searched, decided by a reviewer with a note.
	var res engine.SearchResult
	s.mustCall(201, "POST", "/v1/searches", tokens["ann"], form(t, photos(t, "Katy_Perry")[2], map[string]string{
		"galleries": fmt.Sprint(ref.ID), "purpose": "case 9: ad of 3 May", "case_ref": "CASE-9", "site": "ads.example", "usernames": hostile}), &res)
	match := res.Faces[0].Candidates[0].MatchID
	if match == 0 {
		t.Fatalf("search: %+v", res)
	}
	s.mustCall(200, "POST", fmt.Sprintf("/v1/matches/%d/decisions", match), tokens["rev1"],
		map[string]string{"decision": "potential_candidate", "note": "same mole above the left eyebrow; same ear shape"}, nil)

	b := newBrowser(t, s.url)
	downloads := t.TempDir()
	// Every completed download's file, in order.
	completed := make(chan string, 4)
	progress := chromedp.Events(b.ctx, cdpbrowser.DownloadProgress)
	go func() {
		for ev, err := range progress {
			if err != nil {
				return
			}
			if ev.State == cdpbrowser.DownloadProgressStateCompleted {
				completed <- filepath.Join(downloads, ev.GUID)
			}
		}
	}()
	b.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: new(true)})
		return err
	}))
	downloaded := func() string {
		t.Helper()
		select {
		case path := <-completed:
			return path
		case <-time.After(60 * time.Second):
			b.shot("failure")
			t.Fatal("no download completed")
			return ""
		}
	}

	b.signIn(tokens["rev2"])
	b.open(fmt.Sprintf("#/person/%d", person))
	b.waitText("h1", "Suggested person")
	b.do(chromedp.Click(chromedp.CSS("#case-report")))
	personFile := downloaded()
	b.waitText("#notice", "Case report downloaded (HTML)")
	b.open(fmt.Sprintf("#/match/%d", match))
	b.waitText("h1", fmt.Sprintf("Match %d", match))
	b.thumbsLoaded("#probe")
	b.shot("match-report-button-1280")
	b.do(chromedp.Click(chromedp.CSS("#case-report")))
	matchFile := downloaded()
	b.do(chromedp.Click(chromedp.CSS("#case-report-json")))
	jsonFile := downloaded()
	b.consoleErrors()

	for _, tc := range []struct {
		name, path string
		want       []string
		images     int
	}{
		{"person", personFile, []string{"Suggested person", "+4915123456789", "CASE-9", "clustering line", "people decide", "image.upload"}, 6},
		{"match", matchFile, []string{fmt.Sprintf("Match %d", match), "Katy Perry", "same mole above the left eyebrow", "case 9: ad of 3 May", "operating threshold", "people decide", "match.decide"}, 4},
	} {
		page, err := os.ReadFile(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(page), "<!DOCTYPE html>") {
			t.Fatalf("the %s report's download is not the HTML report: %.200s", tc.name, page)
		}
		file := filepath.Join(artifactsDir(t), tc.name+"-report.html")
		if err := os.WriteFile(file, page, 0o644); err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(file)
		// A fresh tab with the network refused: the file must show whole from itself.
		tab, cancel := chromedp.NewContext(b.ctx)
		requests := chromedp.Events(tab, network.RequestWillBeSent)
		external := make(chan string, 16)
		var seen atomic.Int32 // the file's own request at least: the watch works
		go func() {
			for ev, err := range requests {
				if err != nil {
					return
				}
				seen.Add(1)
				if u := ev.Request.URL; !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") {
					external <- u
				}
			}
		}()
		rb := &browser{t: t, ctx: tab, base: b.base}
		rb.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
			return err
		}), chromedp.Navigate("file://"+abs), rb.visible("#statement"))
		if n := get(rb, chromedp.Evaluate[int](`[...document.images].filter((i) => i.complete && i.naturalWidth > 0).length`)); n != tc.images {
			t.Errorf("the %s report shows %d images, want %d", tc.name, n, tc.images)
		}
		text := get(rb, chromedp.Evaluate[string](`document.body.innerText`))
		for _, want := range append(tc.want, hostile) {
			if !strings.Contains(text, want) {
				t.Errorf("the %s report does not read %q", tc.name, want)
			}
		}
		if title := get(rb, chromedp.Evaluate[string](`document.title`)); title == "owned" || get(rb, chromedp.Evaluate[int](`document.scripts.length`)) != 0 {
			t.Errorf("the %s report ran or holds a script (title %q)", tc.name, title)
		}
		if get(rb, chromedp.Evaluate[bool](`matchMedia('print').matches === false && [...document.styleSheets].some((s) => [...s.cssRules].some((r) => r.media && r.media.mediaText === 'print'))`)) != true {
			t.Errorf("the %s report has no print style", tc.name)
		}
		rb.shot(tc.name + "-report-1280")
		if seen.Load() == 0 {
			t.Errorf("no request of the %s report's tab was seen: the watch for requests leaving the file does not work", tc.name)
		}
		select {
		case u := <-external:
			t.Errorf("the %s report requested %s", tc.name, u)
		default:
		}
		cancel()
	}
	if js, err := os.ReadFile(jsonFile); err != nil || !strings.Contains(string(js), `"statement": "facematch proposes candidates; people decide.`) {
		t.Errorf("the JSON report: %.200s, %v", js, err)
	}
}
