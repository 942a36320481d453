# ringriftd — see README.md.
GO ?= go
PKGS := ./...

.PHONY: test lint bench fuzz build chaos chaos-cluster

## test: the whole suite under the race detector, the lint test included.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

## lint: vet plus the layout rules of internal/lint.
lint:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 ./internal/lint/

## bench: every performance figure, one `name value` line each, beside the
## limits it is compared with (medians of several runs; see BENCH_RUNS).
bench:
	$(GO) run ./cmd/bench

## fuzz: a short pass over each fuzz target.
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./event/
	$(GO) test -run '^$$' -fuzz '^FuzzRecord$$' -fuzztime $(FUZZTIME) ./journal/

build:
	$(GO) build $(PKGS)

## chaos: soaks that kill processes at random (minutes each).
chaos: chaos-cluster

## chaos-cluster: three ringriftd processes in cluster mode, a node SIGKILLed
## and restarted each round (CHAOS_ROUNDS, default 30; the stream leader's
## node every other), clients appending through all nodes; then every
## acknowledged id once, seqs 1..N, identical projections = replay rebuild.
chaos-cluster:
	RINGRIFT_CHAOS=1 $(GO) test -count=1 -timeout 60m -run '^TestChaosCluster$$' -v ./cmd/ringriftd/
