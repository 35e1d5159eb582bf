// Package api will hold the REST API (echo v4): handlers, request and response types, body and
// pixel limits, the one error handler that maps error kinds to HTTP status, and the OpenAPI
// document. It is specified by issue 4 and not built yet; the face pipeline it will call is in
// package engine.
package api
