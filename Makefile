# labhouse — the two commands that matter:
#   make run    install what is needed, build, start the service on http://127.0.0.1:8000
#   make test   install what is needed, build, run every test
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: run test deps deps-test build configure bench fuzz clean

run: deps build
	./$(BUILD_DIR)/labhouse serve

test: deps-test build
	scripts/run-tests.sh $(BUILD_DIR)

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

fuzz: deps-test
	scripts/fuzz.sh

clean:
	rm -rf $(BUILD_DIR)
