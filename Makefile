# Thin wrapper over CMake + ctest. The two set-up commands are `make demo` and `make test`.
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-print-directory

.PHONY: all build deps test demo bench clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j$(JOBS)

test: deps
	@scripts/test.sh

demo: build
	@scripts/demo.sh

clean:
	rm -rf build build-asan build-fuzz
