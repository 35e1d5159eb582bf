# The two commands of the README's quick start.
.PHONY: run test test-quick lint bench

run: ## set up, build and run facematch on sample photos
	scripts/run

test: ## lint, then every test, on real models and photos (what CI runs)
	scripts/test

test-quick: ## the quick tier: every test that needs no models or photo sets (go test -short)
	go test -short ./...

lint: ## gofmt, go vet and staticcheck (pinned)
	scripts/lint

bench: ## benchmarks and evaluations behind bench/RESULTS.md
	bench/run
