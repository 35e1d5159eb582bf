package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/facematch/facematch/internal/testenv"
)

// TestBrowserPossibleMinors: an analyst searches a child's photo and an adult's; the search
// page shows the child's apparent age, its range and the flag; a reviewer's queue in the
// minors order lists the child's item first with the flag, and its match view shows the
// estimate, what it is not, and the children's line.
func TestBrowserPossibleMinors(t *testing.T) {
	skipShort(t)
	testenv.RequireModels(t)
	chromiumPath(t)
	s := startService(t, []string{"--data-dir", t.TempDir()}, nil)
	defer s.stop()
	tokens := s.tokens()
	enrolPeople(t, s, tokens["ann"])

	b := newBrowser(t, s.url)
	b.signIn(tokens["ann"])
	search := func(photo, purpose string) {
		t.Helper()
		b.open("#/")
		b.waitText("h1", "Search a photo")
		b.do(chromedp.SetUploadFiles(chromedp.CSS("#probe-file"), []string{photo}),
			chromedp.SendKeys(chromedp.CSS("#purpose"), purpose),
			chromedp.Click(chromedp.CSS("#search-submit")),
			b.visible("section.probe"))
	}
	search(data("celebs", photos(t, "Katy_Perry")[2]), "browser test: adult ad")
	b.waitText(".probe", "for review")
	search(data("utkface", "8_0_0_20170103200436055.jpg.chip.jpg"), "browser test: child ad")
	b.waitText(".probe .age", "looks")
	b.waitText(".probe .age", "possible minor")
	b.waitText(".probe", "judged under the children's line")
	b.thumbsLoaded(".probe")
	b.shot("search-possible-minor")
	// No candidate reaches the children's line: the analyst sends the first one for review.
	b.do(chromedp.Click(chromedp.CSS(".candidate.below button.send-review")))
	b.waitText(".probe", "1 for review")
	b.signOut()

	b.signIn(tokens["rev1"])
	b.waitText("h1", "Review queue")
	b.open("#/queue?status=pending,disputed&order=minors&reviewable=true")
	b.waitText(".queue-count", "1–2 of 2")
	if first := b.text("#queue tbody tr"); !strings.Contains(first, "possible minor") {
		t.Errorf("the first row in the minors order: %q, want the child's item", first)
	}
	if rows := b.text("#queue tbody"); strings.Count(rows, "possible minor") != 1 {
		t.Errorf("queue: %q, want one flagged item", rows)
	}
	b.thumbsLoaded("#queue")
	b.shot("queue-minors-first")
	b.open("#/queue?status=pending,disputed&possible_minor=true&order=similarity&reviewable=true")
	b.waitText(".queue-count", "1–1 of 1")
	b.key("j")
	b.key(kb.Enter)
	b.do(b.visible("#verdict"))
	b.waitText("#probe .age", "possible minor")
	b.waitText("#probe .age", "It is not the person's age")
	b.waitText("#verdict", "children's faces is much weaker evidence")
	b.thumbsLoaded(".compare")
	b.shot("match-possible-minor")
	b.consoleErrors()
}
