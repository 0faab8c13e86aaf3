# Thin wrapper: CMake does the building, ctest the testing.
#   make run       install what is missing, build, start a local 3-node federation
#   make run-node NODE=n2   start one node of the running local federation again
#   make stop-node NODE=n2  stop one node on purpose (run's supervisor leaves it down)
#   make test      install what is missing, build, run every test (ASan + UBSan; e2e in Docker)
#   make install   chimerad, chimeractl, chimera-demo into $(PREFIX)/bin (DESTDIR honoured)
#   make bench     run the benchmark programs and print their figures
#   make fuzz      build the libFuzzer targets with clang and fuzz each for FUZZ_SECONDS
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
TEST_BUILD ?= build-test
PREFIX ?= /usr/local
# What a federation needs; `make run` and `make install` build only these.
PROGRAMS = chimerad chimeractl chimera-demo
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps configure build programs run run-node stop-node install test test-deps unit bench fuzz format clean

all: build

deps:
	@deploy/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: configure
	@env -u MAKEFLAGS -u MAKELEVEL cmake --build $(BUILD) -j $(JOBS)

# Quiet: the compiler's output only when the build fails.
programs: configure
	@echo "building $(PROGRAMS) in $(BUILD)/"
	@out=$$(env -u MAKEFLAGS -u MAKELEVEL cmake --build $(BUILD) -j $(JOBS) \
	  --target $(PROGRAMS) 2>&1) || { printf '%s\n' "$$out" >&2; exit 1; }

run: programs
	@deploy/run-local.sh $(BUILD)

run-node:
	@test -n "$(NODE)" || { echo "make run-node: say which node: make run-node NODE=n2" >&2; exit 2; }
	@deploy/run-local.sh restart $(NODE)

stop-node:
	@test -n "$(NODE)" || { echo "make stop-node: say which node: make stop-node NODE=n2" >&2; exit 2; }
	@deploy/run-local.sh stop $(NODE)

install: programs
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# The release build must be warning-free; the tests run on the sanitized build,
# the simulator's full schedules on the release build too (a quarter of them
# sanitized: see CMakeLists.txt).
# The e2e test (tests/e2e, label e2e) also needs Docker: test-deps installs it
# and starts dockerd when none answers (`make run` never does).
test: build test-deps
	@if docker info >/dev/null 2>&1; then deploy/base-image.sh --background; fi
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCHIMERA_SANITIZE=ON >/dev/null
	@env -u MAKEFLAGS -u MAKELEVEL cmake --build $(TEST_BUILD) -j $(JOBS)
	@cd $(BUILD) && ctest --output-on-failure -L sim $(CTEST_ARGS)
	@cd $(TEST_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure $(CTEST_ARGS)

test-deps:
	@deploy/install-test-deps.sh

unit: build
	@cd $(BUILD) && ctest --output-on-failure -L unit

bench: build
	@tests/bench/run-all.sh $(BUILD)

# libFuzzer needs clang (tests/fuzz/README.md). Each target starts from a
# scratch directory and the checked-in seeds (the manifest one from
# deploy/examples), so what it finds lands in $(FUZZ_BUILD)/corpus-<name>,
# never in the tree; a crash stops the run and leaves crash-<sha1> here.
fuzz:
	@command -v clang >/dev/null || { echo "make fuzz: needs clang (apt-get install -y clang)" >&2; exit 2; }
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCHIMERA_FUZZ=ON >/dev/null
	@env -u MAKEFLAGS -u MAKELEVEL cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@for src in tests/fuzz/fuzz_*.c; do \
	  name=$$(basename $$src .c); short=$${name#fuzz_}; \
	  seeds=tests/fuzz/corpus/$$short; [ $$short = manifest ] && seeds="$$seeds deploy/examples"; \
	  mkdir -p $(FUZZ_BUILD)/corpus-$$short; \
	  log=$(FUZZ_BUILD)/fuzz-$$short.log; \
	  printf 'fuzz: %s for %s s: ' $$name $(FUZZ_SECONDS); \
	  if $(FUZZ_BUILD)/$$name -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	       $(FUZZ_BUILD)/corpus-$$short $$seeds >$$log 2>&1; then \
	    sed -n 's/^stat::number_of_executed_units: *//p' $$log | tr -d '\n'; echo " inputs, no crash"; \
	  else \
	    echo "FAILED"; tail -n 40 $$log >&2; echo "make fuzz: $$name failed (its log: $$log)" >&2; exit 1; \
	  fi; \
	done

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
