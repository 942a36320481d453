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
	$(GO) test -run '^$$' -fuzz '^FuzzRawHead$$' -fuzztime $(FUZZTIME) ./replay/
	$(GO) test -run '^$$' -fuzz '^FuzzRebuildEqualsLive$$' -fuzztime $(FUZZTIME) ./engine/

## chaos: the long fault runs, each printing its figures. Seeded storage
## faults under the journal (CHAOS_RUNS runs of TestFaultInjection), then
## the daemon binary SIGKILLed under HTTP load and restarted KILL_ROUNDS
## times (TestEndToEndKill9), then the cluster soak (chaos-cluster).
## `make test` runs short versions of all three.
CHAOS_RUNS ?= 3000
KILL_ROUNDS ?= 100
chaos:
	RINGRIFT_CHAOS_RUNS=$(CHAOS_RUNS) $(GO) test -v -count=1 -timeout 60m -run '^TestFaultInjection$$' ./journal/
	RINGRIFT_KILL_ROUNDS=$(KILL_ROUNDS) $(GO) test -v -count=1 -timeout 60m -run '^TestEndToEndKill9$$' ./cmd/ringriftd/
	$(MAKE) chaos-cluster

build:
	$(GO) build $(PKGS)

## chaos-cluster: three ringriftd processes in cluster mode, a node SIGKILLed
## and restarted each round (CHAOS_ROUNDS, default 30; the stream leader's
## node every other), clients appending through all nodes; then every
## acknowledged id once, seqs 1..N, identical projections = replay rebuild.
chaos-cluster:
	RINGRIFT_CHAOS=1 $(GO) test -count=1 -timeout 60m -run '^TestChaosCluster$$' -v ./cmd/ringriftd/
