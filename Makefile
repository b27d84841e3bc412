# Onramp's build entry point. `make run` opens the wizard; `make test` runs every test;
# `make dev` opens it with the UI served by Vite (hot reload) for UI work.
# All three install what they need first (Debian packages, npm packages, tauri-driver) and are safe to repeat.
# The cargo target dir lives outside the clone so repeated runs (and CI on the same machine) reuse it.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/onramp-target
CARGO ?= cargo

.PHONY: deps ui ui-check build run dev test unit lint e2e bindings interop-oidc fuzz fuzz-smoke bench package package-test

deps:
	bash scripts/install-deps.sh

ui:
	cd ui && npm run build

ui-check:
	cd ui && npm run check

build: deps ui
	$(CARGO) build -p onramp -p onramp-cli -p onramp-e2e --bins

run: build
	$(CARGO_TARGET_DIR)/debug/onramp

# The app against its built-in sandbox, its UI from the Vite dev server (port 1420) with hot reload.
# Leaves debug/onramp loading the dev server until the next `make build` (see scripts/dev.sh).
dev: deps
	CARGO="$(CARGO)" bash scripts/dev.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --features onramp-floor/libraries -- -D warnings

unit:
	$(CARGO) test -p onramp-core -p onramp-sandbox -p onramp -p onramp-fuzz -p onramp-cli

e2e:
	bash tests/e2e.sh

test: build ui-check lint unit fuzz-smoke e2e
	@echo "All tests passed."

# The Debian package (Tauri's CLI from ui/node_modules), from the release profile (docs/release-profile.md),
# stripped, with the onramp:// desktop entry. Prints the .deb's path.
package: deps ui
	bash scripts/package.sh

# Inspects the package, installs it (root), checks xdg-open and gio open start it on an onramp:// link,
# and removes it again (tests/package.sh).
package-test: package
	bash tests/package.sh

# The engine against a real third-party OpenID provider (panva/oidc-provider, npm): discovery, the
# custom provider's flow with a refresh token on the first try, UserInfo, a refresh. Needs Node; not
# part of `make test` (it installs from the npm registry).
interop-oidc:
	cd tests/interop/oidc-provider && npm ci --no-audit --no-fund
	$(CARGO) run -p onramp-core --example oidc_provider_interop

# Every fuzz target of crates/onramp-fuzz under libFuzzer (stable Rust), FUZZ_SECONDS each (default
# 60; FUZZ_RUNS=N stops at N executions, FUZZ_JOBS=2 runs two at once), then a table of executions
# and crashes. A crash fails the command and names the saved input. See docs/fuzzing.md.
fuzz: deps
	CARGO="$(CARGO)" bash scripts/fuzz.sh

# The short run in `make test`: a few seconds per target.
fuzz-smoke: deps
	CARGO="$(CARGO)" FUZZ_SECONDS=$${FUZZ_SECONDS:-3} bash scripts/fuzz.sh

# Release builds of Onramp and the bare floor app (bench/floor), then one table of Onramp / floor ratios
# measured in the same run (alternating runs, medians with min–max). Not part of `make test`; BENCH_RUNS=N
# (default 8) and the other knobs are in docs/benchmark.md.
bench: deps ui
	CARGO="$(CARGO)" bash scripts/bench.sh

# Regenerates ui/src/lib/bindings (types) and ui/src/lib/contract.ts (command names) from Rust;
# the unit tests fail while either is stale.
bindings:
	ONRAMP_WRITE_BINDINGS=1 $(CARGO) test -p onramp-core bindings
	ONRAMP_WRITE_BINDINGS=1 $(CARGO) test -p onramp contract
