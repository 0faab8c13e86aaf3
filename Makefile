# Thin wrapper: CMake does the building, ctest the testing.
#   make run    install what is missing, build, start a local 3-node federation
#   make test   install what is missing, build, run every test (ASan + UBSan)
#   make bench  run the benchmark programs and print their figures
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
TEST_BUILD ?= build-test

.PHONY: all deps build run test unit bench fuzz format clean

all: build

deps:
	@deploy/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@env -u MAKEFLAGS -u MAKELEVEL cmake --build $(BUILD) -j $(JOBS)

run: build
	@deploy/run-local.sh $(BUILD)

# The release build must be warning-free; the tests run on the sanitized build.
test: build
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCHIMERA_SANITIZE=ON >/dev/null
	@env -u MAKEFLAGS -u MAKELEVEL cmake --build $(TEST_BUILD) -j $(JOBS)
	@cd $(TEST_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure $(CTEST_ARGS)

unit: build
	@cd $(BUILD) && ctest --output-on-failure -L unit

bench: build
	@tests/bench/run-all.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
