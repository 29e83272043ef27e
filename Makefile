# Thin front door to CMake. `make demo` and `make check` set everything up.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
RELEASE_BUILD ?= build-release
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
# check and CI builds treat warnings as errors; a plain `cmake` build does not.
CHECK_ARGS ?= -DCS_WERROR=ON

.PHONY: all bootstrap build check test check-asan check-fuzz check-release demo bench format clean install deb

all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake -S . -B $(BUILD) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Every test, then the same suite under ASan+UBSan, then each fuzz target
# briefly, then the Release (-O3) build a packager makes, with a smoke run,
# then the Debian packages checked by lintian (about 1.5 min on 2 cores).
check: CMAKE_ARGS += $(CHECK_ARGS)
check: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory check-asan
	$(MAKE) --no-print-directory check-fuzz
	$(MAKE) --no-print-directory check-release
	$(MAKE) --no-print-directory deb

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

check-asan: bootstrap
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCS_SANITIZE=ON $(CHECK_ARGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

check-fuzz: bootstrap
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCS_FUZZ=ON -DCS_SANITIZE=ON $(CHECK_ARGS) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	ctest --test-dir $(FUZZ_BUILD) --output-on-failure -L fuzz

# The Release configuration (-O3) with warnings as errors: everything builds
# (tests and benchmarks too), the binary runs and accepts every example.
check-release: bootstrap
	@cmake -S . -B $(RELEASE_BUILD) -DCMAKE_BUILD_TYPE=Release $(CHECK_ARGS) >/dev/null
	@cmake --build $(RELEASE_BUILD) -j $(JOBS)
	$(RELEASE_BUILD)/chainscope --version
	@for f in examples/*.yaml; do $(RELEASE_BUILD)/chainscope check-config $$f >/dev/null || exit 1; done
	@echo "release build: ok"

# Installs into PREFIX (default /usr/local; DESTDIR for staging): the binary,
# libchainscope.so.0 and its headers and pkg-config file, man pages, bash
# completion, systemd units, /etc/chainscope/chainscope.yaml, example configs.
PREFIX ?= /usr/local
install: bootstrap
	@cmake -S . -B $(BUILD) $(CMAKE_ARGS) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	cmake --install $(BUILD)

# The Debian packages chainscope, libchainscope0 and libchainscope-dev in
# build-deb/ (dpkg-buildpackage on a copy of the tree), checked by lintian.
deb: bootstrap
	@JOBS=$(JOBS) scripts/make-deb build-deb

demo: build
	@scripts/demo $(BUILD)/chainscope

bench: build
	@bench/run $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(RELEASE_BUILD) build-deb
