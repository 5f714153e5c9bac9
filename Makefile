# Vigil. `make run` starts Vigil with simulated cameras; `make test` runs every test.
GO ?= go
BIN := bin/vigil
RUN_DIR ?= data

.PHONY: build run test deps vet fuzz bench clips canary

build:
	$(GO) build -o $(BIN) ./cmd/vigil

deps:
	@scripts/deps.sh

run: build
	@scripts/run.sh $(BIN) $(RUN_DIR)

test: deps
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) test -race -count=1 -timeout 20m ./...

# Each fuzz target for FUZZTIME (default 60s), one at a time on one
# worker; FUZZ picks targets by name (a grep -E pattern).
fuzz:
	@scripts/fuzz.sh

# The bench, with go2rtc (built from the module proxy) measured beside Vigil
# in the RTSP fan-out and the many-cameras steps (issue 17 item 6).
bench: deps build
	@scripts/go2rtc.sh bin/go2rtc
	$(GO) run ./cmd/vigilbench -vigil $(BIN) -go2rtc bin/go2rtc -out BENCHMARKS.md

clips:
	scripts/make-clips.sh

# The leak canary: 200 cameras, 100 users, 12 minutes of recreated incidents,
# then each planted bug (-tags canarymutant) until caught; then the cluster
# mode: 3 nodes on one Postgres, 60 cameras, 5 minutes with node kills and
# route cuts, then the cluster's planted bugs. Rewrites the canary section of
# BENCHMARKS.md. CANARY_FLAGS adds flags (e.g. -seed N, -duration 2m),
# CANARY_CLUSTER_FLAGS to the cluster's run.
canary: deps
	$(GO) vet -tags canarymutant ./...
	$(GO) run ./cmd/vigilcanary -mutant all -out BENCHMARKS.md $(CANARY_FLAGS)
	$(GO) run ./cmd/vigilcanary -nodes 3 -cameras 60 -users 30 -duration 5m -mutant all -out BENCHMARKS.md $(CANARY_CLUSTER_FLAGS)
