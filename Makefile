# labhouse — the two commands that matter:
#   make run    install what is needed, build, start the service on http://127.0.0.1:8000
#   make test   install what is needed, build, run every test; then a 10 s smoke run of every
#               fuzz target and the AddressSanitizer and ThreadSanitizer runs (docs/hardening.md)
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
FUZZ_SECONDS ?= 60
CI_FUZZ_SECONDS ?= 10

.PHONY: run test deps deps-test build configure bench fuzz test-asan test-tsan clean

run: deps build
	./$(BUILD_DIR)/labhouse serve

test: deps-test build
	scripts/run-tests.sh $(BUILD_DIR)
	FUZZ_SECONDS=$(CI_FUZZ_SECONDS) scripts/fuzz.sh
	scripts/sanitizer-tests.sh address
	scripts/sanitizer-tests.sh thread

deps:
	scripts/install-deps.sh run

deps-test:
	scripts/install-deps.sh test && tests/browser/install.sh

configure:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

bench: deps-test build
	bench/run.sh $(BUILD_DIR)

# Every fuzz target for FUZZ_SECONDS each (make fuzz FUZZ_SECONDS=600).
fuzz: deps-test
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

# The whole test suite under AddressSanitizer + UBSan (build-asan); the concurrent code's tests
# under ThreadSanitizer (build-tsan).
test-asan: deps-test
	scripts/sanitizer-tests.sh address

test-tsan: deps-test
	scripts/sanitizer-tests.sh thread

clean:
	rm -rf $(BUILD_DIR)
