// Package api is facematch's REST API on echo v4: JSON over HTTP with bearer credentials, one
// error handler that turns every error kind into an application/problem+json answer with the
// right status (4xx for every client mistake, never a panic), body and pixel limits, request
// IDs, structured request logs without image bytes or embeddings, Prometheus metrics, and the
// OpenAPI 3 document of every route (GET /v1/openapi.json).
//
// Handlers only translate HTTP to the engine's use cases (engine.Service) and back; they call
// nothing else and start no goroutine that outlives its request.
package api
