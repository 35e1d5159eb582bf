package engine

import (
	"context"
	"fmt"
	"strings"
)

// Contact is one contact detail of an ad, as stored for the look-up: a phone (normalised as
// NormalizePhone does), a username (lower-cased, alone or as site/username), a URL or an ad ID.
type Contact struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// Contact kinds.
const (
	ContactPhone        = "phone"
	ContactUsername     = "username"
	ContactSiteUsername = "site_username"
	ContactURL          = "url"
	ContactAdID         = "ad_id"
)

// ContactsOf is every contact detail of an already cleaned source (CleanSource).
func ContactsOf(src Source) []Contact {
	var out []Contact
	for _, p := range src.Phones {
		out = append(out, Contact{ContactPhone, p})
	}
	site := strings.ToLower(src.Site)
	for _, u := range src.Usernames {
		out = append(out, Contact{ContactUsername, strings.ToLower(u)})
		if site != "" {
			out = append(out, Contact{ContactSiteUsername, site + "/" + strings.ToLower(u)})
		}
	}
	if src.URL != "" {
		out = append(out, Contact{ContactURL, src.URL})
	}
	if src.AdID != "" {
		out = append(out, Contact{ContactAdID, src.AdID})
	}
	return out
}

// LookupQuery is what an analyst looks up: exactly one of a phone, a username (with its site
// or not), a URL or an ad ID, as written in the ad.
type LookupQuery struct {
	Phone, Username, Site, URL, AdID string
}

// maxLookup bounds the photos one look-up returns.
const maxLookup = 500

// LookupResult is the photos whose ads carry a contact detail.
type LookupResult struct {
	Contact Contact `json:"contact"`
	Images  []Image `json:"images"`
	// More is true when more photos carry it than the answer holds (maxLookup).
	More bool `json:"more"`
}

// Lookup finds the stored photos, in a's galleries, whose ads carry the contact detail q names,
// normalised as stored (a phone written any way finds the same number). Audited: who looked up
// which detail is part of the record.
func (s *Service) Lookup(ctx context.Context, a Actor, q LookupQuery) (LookupResult, error) {
	c, err := q.contact()
	if err != nil {
		return LookupResult{}, err
	}
	imgs, err := s.cfg.Catalog.ImagesWithContact(ctx, c, a.Galleries, maxLookup+1)
	if err != nil {
		return LookupResult{}, err
	}
	res := LookupResult{Contact: c, Images: imgs}
	if len(imgs) > maxLookup {
		res.Images, res.More = imgs[:maxLookup], true
	}
	galleries := map[int64]bool{}
	var gs []int64
	for _, img := range res.Images {
		if !galleries[img.GalleryID] {
			galleries[img.GalleryID] = true
			gs = append(gs, img.GalleryID)
		}
	}
	return res, s.auditRead(ctx, entry(a, "contact.lookup", "", gs, c.Kind+"="+c.Value, fmt.Sprintf("images=%d", len(res.Images))))
}

// contact checks that q names one detail and normalises it.
func (q LookupQuery) contact() (Contact, error) {
	given := 0
	for _, v := range []string{q.Phone, q.Username, q.URL, q.AdID} {
		if strings.TrimSpace(v) != "" {
			given++
		}
	}
	if given != 1 {
		return Contact{}, fmt.Errorf("give exactly one of phone, username, url or ad_id (got %d): %w", given, ErrInvalid)
	}
	if strings.TrimSpace(q.Site) != "" && strings.TrimSpace(q.Username) == "" {
		return Contact{}, fmt.Errorf("site goes with a username: %w", ErrInvalid)
	}
	src, err := CleanSource(Source{Site: q.Site, Usernames: nonEmpty(q.Username), Phones: nonEmpty(q.Phone), URL: q.URL, AdID: q.AdID})
	if err != nil {
		return Contact{}, err
	}
	cs := ContactsOf(src)
	if len(cs) == 0 {
		return Contact{}, fmt.Errorf("the value is empty once cleaned: %w", ErrInvalid)
	}
	return cs[len(cs)-1], nil // with a site, the site-qualified username
}

func nonEmpty(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return []string{s}
}
