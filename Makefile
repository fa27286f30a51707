GO ?= go
BIN := bin/ringhook
# Packages with goroutines that share state; they also run under the race detector.
RACE_PKGS := ./hub/... ./agent/... ./raftfsm/... ./integration/pbxsim/...

.PHONY: build test vet unit race e2e bench fuzz demo clean

build:
	$(GO) build -o $(BIN) ./cmd/ringhook

# vet also fails on files that gofmt would change.
vet:
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./integration/...

unit:
	$(GO) test -count=1 ./...

race:
	$(GO) test -count=1 -race $(RACE_PKGS)

e2e: build
	RINGHOOK_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -tags e2e -timeout 15m ./integration/...

# test is the command the README and CI run.
test: vet unit race e2e

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# fuzz runs each fuzz target for FUZZTIME; plain `go test` runs their seed corpora.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./hub/intake
	$(GO) test -run '^$$' -fuzz '^FuzzMatch$$' -fuzztime $(FUZZTIME) ./hub/routing

demo: build
	./$(BIN) dev

clean:
	rm -rf bin
