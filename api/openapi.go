package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/facematch/facematch/engine"
)

// The OpenAPI 3 document is generated from Routes and the response types themselves (their JSON
// tags), so it cannot drift from the code: a test checks that every route is in it.

type opDoc struct {
	summary string
	query   []param // query parameters
	json    any     // a JSON request body of this type
	form    []param // multipart/form-data fields
	ok      int     // success status
	out     any     // success body type (nil: none; []byte: binary)
	outType string  // success media type when not JSON
	errors  []int   // client errors it can answer besides 401/403
}

type param struct {
	name, typ, desc string
	required        bool
}

var opDocs = map[string]opDoc{
	"GET /healthz":         {summary: "Liveness: the process answers.", ok: 200, out: map[string]string{}},
	"GET /readyz":          {summary: "Readiness: models loaded, stores reachable.", ok: 200, out: map[string]string{}, errors: []int{503}},
	"GET /metrics":         {summary: "Prometheus metrics (text format).", ok: 200, out: []byte{}, outType: "text/plain"},
	"GET /v1/openapi.json": {summary: "This document.", ok: 200, out: map[string]any{}},
	"GET /v1/me":           {summary: "The caller's credential name and role.", ok: 200, out: map[string]any{}},
	"POST /v1/galleries":   {summary: "Create a gallery bound to an embedding model.", json: createGalleryRequest{}, ok: 201, out: engine.Gallery{}, errors: []int{400, 409, 415, 422}},
	"GET /v1/galleries": {summary: "List galleries with their counts.", ok: 200, out: struct {
		Galleries []engine.Gallery `json:"galleries"`
	}{}},
	"GET /v1/galleries/:id":          {summary: "One gallery.", ok: 200, out: engine.Gallery{}, errors: []int{400, 404}},
	"PATCH /v1/galleries/:id":        {summary: "Set a gallery's review policy: its target FPIR, the share of searches of someone not in it that may bring a review item (default 0.01; its operating threshold follows at every size), and minors (a gallery of children, judged under the minors' line and bands).", json: updateGalleryRequest{}, ok: 200, out: engine.Gallery{}, errors: []int{400, 404, 415, 422}},
	"POST /v1/galleries/:id/cluster": {summary: "Cluster a collection's faces into suggested persons, from scratch (Infomap on the 50-nearest-neighbour graph above 0.87; two faces of one photo never one person; reviewers' merges and splits always hold); replaces its earlier persons. Audited as persons.cluster.", ok: 200, out: engine.ClusterReport{}, errors: []int{400, 404, 422}},
	"GET /v1/galleries/:id/persons": {summary: "A collection's suggested persons of two faces or more: size, representative face, cohesion, first and last seen, and the contact details of their ads with counts. A proposal, never an identification.", query: []param{{"order", "string", "size (default), recent, score (best cross-match first) or minors (persons whose faces' median apparent age is flagged a possible minor first)", false}, {"possible_minor", "boolean", "true: only persons flagged a possible minor; false: only the others. A triage aid, never a finding", false}}, ok: 200, out: struct {
		Persons []engine.Person `json:"persons"`
	}{}, errors: []int{400, 404, 422}},
	"POST /v1/persons/:id/confirm":     {summary: "A reviewer confirms a suggested person (with a note): it keeps its members when the gallery is clustered again. Audited as person.confirm.", json: personActionRequest{}, ok: 200, out: engine.Person{}, errors: []int{400, 404, 415, 422}},
	"POST /v1/persons/:id/remove-face": {summary: "A reviewer takes a face (face_id) out of a person, for good; the person goes with its last face. Audited as person.remove_face.", json: personActionRequest{}, ok: 200, out: engine.Person{}, errors: []int{400, 404, 415, 422}},
	"POST /v1/persons/:id/merge":       {summary: "A reviewer merges another person (person_id) of the same gallery into this one: recorded as 'same person' judgements that every later clustering honours. Refused (409) when a photo would have two faces in it, or when it contradicts an earlier 'not the same person' between them unless supersede is true. Audited as person.merge.", json: personActionRequest{}, ok: 200, out: engine.Person{}, errors: []int{400, 404, 409, 415, 422}},
	"POST /v1/persons/:id/split":       {summary: "A reviewer moves some faces (face_ids) of a person into a new person: they are one person and not the faces left, judgements every later clustering honours. Refused (409) when it contradicts an earlier merge unless supersede is true. Audited as person.split; answers the new person.", json: personActionRequest{}, ok: 201, out: engine.Person{}, errors: []int{400, 404, 409, 415, 422}},
	"POST /v1/persons/:id/search":      {summary: "Search a suggested person as a whole against reference galleries on its model: its best faces, each subject scored by its best pair, one candidate per subject and one review item per (person, subject) at or above the gallery's threshold; searched again, no item twice. Recorded as a search, audited as person.search.", json: personSearchRequest{}, ok: 201, out: engine.SearchResult{}, errors: []int{400, 404, 409, 415, 422}},
	"GET /v1/persons/:id":              {summary: "One suggested person with its faces and their ads (audited as person.read).", ok: 200, out: engine.Person{}, errors: []int{400, 404}},
	"GET /v1/persons/:id/report":       {summary: "A case report on a suggested person, as one self-contained HTML file (inline style, images as data: URIs, nothing loaded from elsewhere, printable) or a JSON bundle: its faces and photos (reduced copies, 12 at most) with their ads' metadata, contacts, links with their evidence, reviewers' confirmation, the audit trail of the person and its photos and faces, the model and thresholds in force, and the statement that the engine proposes and people decide. An attachment; audited as report.create, whose entry numbers the report.", query: reportQuery, ok: 200, out: engine.CaseReport{}, errors: []int{400, 404}},
	"DELETE /v1/galleries/:id":         {summary: "Delete a gallery: its subjects, photos, faces, vectors, blobs and matches.", ok: 204, errors: []int{400, 404}},
	"POST /v1/galleries/:id/subjects":  {summary: "Add a known person to a reference gallery.", json: createSubjectRequest{}, ok: 201, out: engine.Subject{}, errors: []int{400, 404, 409, 415, 422}},
	"GET /v1/galleries/:id/subjects": {summary: "List a gallery's subjects.", ok: 200, out: struct {
		Subjects []engine.Subject `json:"subjects"`
	}{}, errors: []int{400, 404}},
	"GET /v1/subjects/:id":          {summary: "One subject.", ok: 200, out: engine.Subject{}, errors: []int{400, 404}},
	"PATCH /v1/subjects/:id":        {summary: "Edit a subject's name, external reference or notes (the fields given; audited as subject.update). Photos and faces stay.", json: updateSubjectRequest{}, ok: 200, out: engine.Subject{}, errors: []int{400, 404, 415, 422}},
	"DELETE /v1/subjects/:id":       {summary: "Delete a subject with their photos, faces, vectors, blobs and matches.", ok: 204, errors: []int{400, 404}},
	"POST /v1/galleries/:id/images": {summary: "Upload a photo: every face is detected, quality-checked, embedded and indexed; a reference photo keeps its subject's face alone (face, face_box; 409 lists the faces when several could be). The same bytes twice answer 200 with duplicate=true.", form: uploadForm, ok: 201, out: engine.Enrolled{}, errors: []int{400, 404, 409, 413, 415, 422}},
	"GET /v1/galleries/:id/images":  {summary: "A gallery's photos with their faces, a page at a time (records only, no bytes).", query: []param{{"subject", "integer", "only this subject's photos", false}, {"cursor", "string", "next_cursor of the previous page", false}, {"limit", "integer", "1-500, default 100", false}}, ok: 200, out: page[engine.ImageFaces]{}, errors: []int{400, 404}},
	"GET /v1/images/:id":            {summary: "A photo's original bytes (audited).", ok: 200, out: []byte{}, outType: "image/*", errors: []int{400, 404}},
	"GET /v1/images/:id/reposts": {summary: "The stored photos (in the caller's galleries) that are this photo reposted, or that it reposts: re-compressed, resized, cropped, mirrored or captioned, found by perceptual hash within radius bits. 409 for a photo stored before hashes were kept.", ok: 200, out: struct {
		ImageID int64           `json:"image_id"`
		Radius  int             `json:"radius"`
		Reposts []engine.Repost `json:"reposts"`
	}{}, errors: []int{400, 404, 409}},
	"GET /v1/images/:id/faces": {summary: "A photo's record and its faces.", ok: 200, out: engine.ImageFaces{}, errors: []int{400, 404}},
	"DELETE /v1/images/:id":    {summary: "Delete a photo with its faces, vectors, blobs and matches.", ok: 204, errors: []int{400, 404}},
	"GET /v1/lookup": {summary: "The stored photos (in the caller's galleries, newest first, at most 500) whose ad carries a contact detail, normalised as stored: a phone written any way finds the same number, a username any case (with site: that site's only). Audited as contact.lookup.", query: []param{
		{"phone", "string", "a phone number as written", false}, {"username", "string", "a username", false}, {"site", "string", "the username's site", false},
		{"url", "string", "an ad URL", false}, {"ad_id", "string", "an ad ID", false}}, ok: 200, out: engine.LookupResult{}, errors: []int{400, 422}},
	"GET /v1/faces/:id/thumbnail":       {summary: "A stored face's thumbnail (JPEG).", ok: 200, out: []byte{}, outType: "image/jpeg", errors: []int{400, 404}},
	"GET /v1/probe-faces/:id/thumbnail": {summary: "A search probe face's thumbnail (JPEG).", ok: 200, out: []byte{}, outType: "image/jpeg", errors: []int{400, 404}},
	"POST /v1/searches":                 {summary: "Search galleries with a probe photo; every probe face gets its ranked candidates. Those at or above their gallery's operating threshold (its target FPIR at its size) become review items (match_id); a photo searched before links to the items it made then.", form: searchForm, ok: 201, out: engine.SearchResult{}, errors: []int{400, 404, 409, 413, 415, 422}},
	"GET /v1/searches/:id":              {summary: "A past search: its probe faces, their candidates and the review items they are.", ok: 200, out: engine.SearchResult{}, errors: []int{400, 404}},
	"POST /v1/searches/:id/review":      {summary: "Send a search's candidate below its gallery's threshold for review: it becomes a pending match (201), or is one already (200).", json: sendForReviewRequest{}, ok: 201, out: engine.SearchCandidate{}, errors: []int{400, 404, 415, 422}},
	"GET /v1/searches/:id/photo":        {summary: "The probe photo a search was run with (audited). A job's cross-match has none: its probes are stored photos.", ok: 200, out: []byte{}, outType: "image/*", errors: []int{400, 404}},
	"GET /v1/settings/retention":        {summary: "The retention policy: search_days, after which a search whose items were all decided no candidate or inconclusive (or made none) is deleted with its probe photo, thumbnails, candidates, items and decisions (0: kept for ever).", ok: 200, out: engine.RetentionPolicy{}},
	"PUT /v1/settings/retention":        {summary: "Set the retention policy (audited as retention.set); the service applies it at every sweep (--sweep-interval), audited per search as search.expire.", json: retentionRequest{}, ok: 200, out: engine.RetentionPolicy{}, errors: []int{400, 415, 422}},
	"GET /v1/review/probes": {summary: "The review queue grouped by probe face: a page of probe faces (the one with the most similar item first), each with its items side by side. The filters of GET /v1/matches; limit counts groups (1-100, default 20).", query: []param{
		{"status", "string", "comma-separated statuses", false}, {"gallery", "integer", "gallery ID", false}, {"search", "integer", "search ID", false},
		{"job", "integer", "job ID (its cross-match)", false}, {"case", "string", "case reference of the probe", false},
		{"reviewable", "boolean", "true: only matches the caller may still decide", false},
		{"cursor", "string", "next_cursor of the previous page", false}, {"limit", "integer", "1-100, default 20", false}},
		ok: 200, out: probeGroupPage{}, errors: []int{400, 422}},
	"GET /v1/review/counts": {summary: "Where the review stands per gallery and per case (in the caller's galleries): items pending, disputed and final, and when the oldest still waiting was created.", ok: 200, out: engine.ReviewCounts{}},
	"GET /v1/matches": {summary: "The review queue: matches a page at a time, with the number the filter selects.", query: []param{
		{"status", "string", "comma-separated statuses", false}, {"gallery", "integer", "gallery ID", false}, {"search", "integer", "search ID", false},
		{"job", "integer", "job ID (its cross-match)", false}, {"case", "string", "case reference of the probe", false},
		{"probe_face", "integer", "probe face ID", false},
		{"min_similarity", "number", "in [-1, 1]", false}, {"max_similarity", "number", "in [-1, 1]", false},
		{"reviewable", "boolean", "true: only matches the caller may still decide (not requested by them, not decided by them)", false},
		{"possible_minor", "boolean", "true: only items whose probe face is flagged a possible minor (apparent age under the line unless its range is clearly adult); false: only the others. A triage aid, never a finding", false},
		{"order", "string", "oldest (default), newest, similarity (most similar first) or minors (possible minors first, each part most similar first)", false},
		{"cursor", "string", "next_cursor of the previous page (same order)", false}, {"limit", "integer", "1-500, default 100", false}},
		ok: 200, out: matchPage{}, errors: []int{400, 422}},
	"GET /v1/matches/:id":            {summary: "One review item with its decisions.", ok: 200, out: engine.Match{}, errors: []int{400, 404}},
	"GET /v1/matches/:id/view":       {summary: "Everything a reviewer needs to decide a match: both faces with their photos' records and ad metadata, the band, the probe's other candidates, the decisions so far, and whether the caller may decide.", ok: 200, out: engine.MatchView{}, errors: []int{400, 404}},
	"GET /v1/matches/:id/report":     {summary: "A case report on a match, as one self-contained HTML file or a JSON bundle (see GET /v1/persons/{id}/report): the match with every decision, reviewer and note, the search or job behind it, both faces and photos with their ads' metadata, the probe face's other candidates, the audit trail of these records, the model, the gallery's operating threshold, target and bands, and the statement that the engine proposes and people decide. Audited as report.create.", query: reportQuery, ok: 200, out: engine.CaseReport{}, errors: []int{400, 404}},
	"POST /v1/matches/:id/decisions": {summary: "Record a reviewer's decision (a note is required for potential_candidate). Final when the configured number of distinct reviewers agree; the searcher cannot decide; one decision per reviewer.", json: decideRequest{}, ok: 200, out: engine.Match{}, errors: []int{400, 404, 409, 415, 422}},
	"POST /v1/jobs":                  {summary: "Queue a batch job: ingest photos from an S3 prefix, a directory under --ingest-root or an uploaded archive (with a metadata sidecar, optionally cross-matched against reference galleries), or reprocess a gallery with another model.", form: jobForm, ok: 202, out: engine.Job{}, errors: []int{400, 404, 409, 413, 415, 422}},
	"GET /v1/jobs":                   {summary: "Jobs, newest first, with progress, rate and ETA.", query: []param{{"state", "string", "comma-separated states", false}, {"gallery", "integer", "gallery ID", false}, {"cursor", "string", "next_cursor of the previous page", false}, {"limit", "integer", "1-500, default 100", false}}, ok: 200, out: page[engine.JobView]{}, errors: []int{400}},
	"GET /v1/jobs/:id":               {summary: "One job: done/total/failed counts, rate (files/s) and ETA.", ok: 200, out: engine.JobView{}, errors: []int{400, 404}},
	"GET /v1/jobs/:id/items":         {summary: "A job's finished files by name, each with its outcome and, for failures, the reason.", query: []param{{"state", "string", "stored, duplicate, no_face or failed", false}, {"cursor", "string", "next_cursor of the previous page", false}, {"limit", "integer", "1-1000, default 100", false}}, ok: 200, out: page[engine.JobItem]{}, errors: []int{400, 404, 422}},
	"POST /v1/jobs/:id/cancel":       {summary: "Cancel a job; what it stored stays and it can be resumed.", ok: 200, out: engine.JobView{}, errors: []int{400, 404, 409}},
	"POST /v1/jobs/:id/resume":       {summary: "Queue a cancelled or failed job again; files it finished are not redone.", ok: 200, out: engine.JobView{}, errors: []int{400, 404, 409}},
	"GET /v1/audit":                  {summary: "The append-only audit log, newest first (order=oldest for the other way), a page at a time.", query: []param{{"order", "string", "newest (default) or oldest", false}, {"since", "string", "RFC 3339 time or date", false}, {"actor", "string", "credential name", false}, {"action", "string", "e.g. search.create", false}, {"cursor", "string", "next_cursor of the previous page", false}, {"limit", "integer", "1-1000, default 100", false}}, ok: 200, out: page[engine.AuditEntry]{}, errors: []int{400}},
	"GET /v1/audit/export":           {summary: "A range of the audit log, oldest first, as one JSON array or CSV file (an attachment; every field, so the hash chain can be checked; CSV cells that a spreadsheet would run as formulas start with an apostrophe). The export is itself audited.", query: []param{{"format", "string", "json (default) or csv", false}, {"since", "string", "RFC 3339 time or date", false}, {"until", "string", "RFC 3339 time or date (exclusive)", false}, {"actor", "string", "credential name", false}, {"action", "string", "e.g. match.decide", false}}, ok: 200, out: []engine.AuditEntry{}, errors: []int{400}},
	"POST /v1/tokens":                {summary: "Create a credential; its secret is in this answer only.", json: createTokenRequest{}, ok: 201, out: createTokenResponse{}, errors: []int{400, 409, 415, 422}},
	"GET /v1/tokens": {summary: "List credentials (never their secrets).", ok: 200, out: struct {
		Tokens []engine.Token `json:"tokens"`
	}{}},
	"DELETE /v1/tokens/:id": {summary: "Revoke a credential (the last active admin credential cannot be).", ok: 200, out: engine.Token{}, errors: []int{400, 404, 409}},
	"POST /v1/tokens/:id/rotate": {summary: "Give a credential a new secret and expiry; the old secret stops working. The secret is in this answer only.",
		ok: 200, out: createTokenResponse{}, errors: []int{400, 404, 409}},
	"PUT /v1/tokens/:id/galleries": {summary: "Limit an analyst or reviewer credential to some galleries (null: all).", json: scopeRequest{},
		ok: 200, out: engine.Token{}, errors: []int{400, 404, 415, 422}},
	"POST /v1/me/rotate": {summary: "Give the caller's own credential a new secret and expiry; the old secret stops working. The secret is in this answer only.",
		ok: 200, out: createTokenResponse{}, errors: []int{409}},
}

var reportQuery = []param{{"format", "string", "html (default: one self-contained file) or json (the bundle, images in base64)", false}}

var uploadForm = []param{
	{"image", "binary", "the photo (JPEG, PNG, GIF, WebP, BMP or TIFF)", true},
	{"subject_id", "integer", "required in reference galleries, refused in collections", false},
	{"face", "integer", "reference galleries: the index of the subject's face, from the faces a 409 listed; without face or face_box the only face that passed the quality gate is taken, and several answer 409 with the faces (boxes, thumbnails) to choose from. The other faces are not stored.", false},
	{"face_box", "string", "reference galleries: x,y,w,h around the subject's face in pixels, instead of face", false},
	{"source_url", "string", "", false}, {"site", "string", "", false}, {"ad_id", "string", "", false},
	{"usernames", "string", "separated by commas, semicolons or bars (as in sidecars)", false}, {"phones", "string", "separated by commas, semicolons or bars; normalised to E.164 where written internationally", false},
	{"posted_at", "string", "RFC 3339 or date", false}, {"collected_at", "string", "RFC 3339 or date", false}, {"case_ref", "string", "", false},
}

var searchForm = []param{
	{"image", "binary", "the probe photo", true},
	{"galleries", "string", "comma-separated gallery IDs", true},
	{"purpose", "string", "why: the reason or case reference (audited)", true},
	{"k", "integer", "candidates per probe face, default 20", false},
	{"min_similarity", "number", "drop candidates below this cosine similarity", false},
	{"source_url", "string", "the ad the probe photo came from", false}, {"site", "string", "", false}, {"ad_id", "string", "", false},
	{"usernames", "string", "separated by commas, semicolons or bars", false}, {"phones", "string", "separated by commas, semicolons or bars", false},
	{"posted_at", "string", "RFC 3339 or date", false}, {"collected_at", "string", "RFC 3339 or date", false},
	{"case_ref", "string", "files the search's matches under this case in the review queue", false},
}

var (
	openapiOnce sync.Once
	openapiJSON []byte
)

// OpenAPI returns the document.
func OpenAPI() []byte {
	openapiOnce.Do(func() {
		schemas := map[string]any{}
		paths := map[string]map[string]any{}
		for _, r := range Routes() {
			d := opDocs[r.Method+" "+r.Path]
			op := map[string]any{"summary": d.summary, "operationId": operationID(r)}
			var params []any
			if strings.Contains(r.Path, ":id") {
				params = append(params, map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "integer", "minimum": 1}})
			}
			for _, p := range d.query {
				params = append(params, map[string]any{"name": p.name, "in": "query", "required": p.required, "description": p.desc, "schema": map[string]any{"type": p.typ}})
			}
			if params != nil {
				op["parameters"] = params
			}
			if d.json != nil {
				op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(d.json), schemas)}}}
			}
			if d.form != nil {
				props := map[string]any{}
				var req []string
				for _, p := range d.form {
					s := map[string]any{"type": p.typ, "description": p.desc}
					if p.typ == "binary" {
						s = map[string]any{"type": "string", "format": "binary", "description": p.desc}
					}
					props[p.name] = s
					if p.required {
						req = append(req, p.name)
					}
				}
				op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"multipart/form-data": map[string]any{"schema": map[string]any{"type": "object", "properties": props, "required": req}}}}
			}
			responses := map[string]any{}
			ok := map[string]any{"description": http.StatusText(d.ok)}
			switch {
			case d.outType != "":
				ok["content"] = map[string]any{d.outType: map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}}
			case d.out != nil:
				ok["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(d.out), schemas)}}
			}
			responses[strconv.Itoa(d.ok)] = ok
			codes := d.errors
			if r.Roles != nil {
				codes = append(codes, 401, 403, 429)
				op["security"] = []any{map[string]any{"bearer": []string{}}}
				op["x-roles"] = r.Roles
			} else {
				op["security"] = []any{}
			}
			for _, code := range codes {
				responses[strconv.Itoa(code)] = map[string]any{"description": http.StatusText(code), "content": map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}}
			}
			op["responses"] = responses
			path := openapiPath(r.Path)
			if paths[path] == nil {
				paths[path] = map[string]any{}
			}
			paths[path][strings.ToLower(r.Method)] = op
		}
		schemaOf(reflect.TypeOf(Problem{}), schemas)
		doc := map[string]any{
			"openapi": "3.0.3",
			"info": map[string]any{"title": "facematch", "version": "1",
				"description": "Face-similarity matching for investigations. The engine proposes candidates; people decide. Every search, upload, decision, view, deletion and credential change is audited."},
			"paths":      paths,
			"components": map[string]any{"schemas": schemas, "securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}}},
		}
		openapiJSON, _ = json.MarshalIndent(doc, "", "  ")
	})
	return openapiJSON
}

func (s *Server) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, OpenAPI())
}

func openapiPath(p string) string { return strings.ReplaceAll(p, ":id", "{id}") }

func operationID(r Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(r.Method))
	for _, part := range strings.Split(r.Path, "/") {
		if part == "" || part == "v1" || strings.HasPrefix(part, ":") {
			continue
		}
		part = strings.NewReplacer("-", "", ".", "").Replace(part)
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

var timeType = reflect.TypeOf(time.Time{})

// schemaOf returns the JSON schema of t, registering named struct types in schemas.
func schemaOf(t reflect.Type, schemas map[string]any) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		s := schemaOf(t.Elem(), schemas)
		out := map[string]any{"nullable": true}
		for k, v := range s {
			out[k] = v
		}
		return out
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), schemas)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), schemas)}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := t.Name()
		if i := strings.Index(name, "["); i >= 0 {
			name = "Page" + t.Field(0).Type.Elem().Name() // page[T] → PageT
		}
		if name != "" {
			if _, done := schemas[name]; done {
				return map[string]any{"$ref": "#/components/schemas/" + name}
			}
			schemas[name] = map[string]any{} // placeholder against recursion
		}
		props := map[string]any{}
		addFields(t, props, schemas)
		s := map[string]any{"type": "object", "properties": props}
		if name == "" {
			return s
		}
		schemas[name] = s
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func addFields(t reflect.Type, props map[string]any, schemas map[string]any) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			addFields(f.Type, props, schemas)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schemaOf(f.Type, schemas)
	}
}
