# The two commands of the README's quick start.
.PHONY: run test bench

run: ## set up, build and run facematch on sample photos
	scripts/run

test: ## every test, on real models and photos (what CI runs)
	scripts/test

bench: ## benchmarks and evaluations behind bench/RESULTS.md
	bench/run
