# The two commands: `make demo` and `make test`. Each sets up what is missing
# (Debian packages, ONNX Runtime headers, a virtual environment with the
# package installed in editable mode) and is quick when all is there.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CMAKE := $(VENV)/bin/cmake
CTEST := $(VENV)/bin/ctest
CPP_BUILD ?= build/cpp
DEMO_OUT ?= demo_out
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

SYSTEM_STAMP := .deps/system.stamp
ORT_HEADERS := .deps/onnxruntime/include/onnxruntime_cxx_api.h
DEPS_STAMP := $(VENV)/.deps.stamp
NATIVE_STAMP := $(VENV)/.native.stamp
# The editable install maps each Python file by name, so adding or removing
# one needs a reinstall; this list file changes only when the set does.
PY_FILE_LIST := build/python-files.txt
$(shell mkdir -p build && find python export -name '*.py' | sort > $(PY_FILE_LIST).new && \
  (cmp -s $(PY_FILE_LIST).new $(PY_FILE_LIST) && rm $(PY_FILE_LIST).new || mv $(PY_FILE_LIST).new $(PY_FILE_LIST)))
NATIVE_SOURCES := CMakeLists.txt pyproject.toml $(PY_FILE_LIST) $(shell find cpp bindings cmake -type f 2>/dev/null)
CPP_TEST_SOURCES := $(shell find tests/cpp -type f 2>/dev/null)

.PHONY: help setup demo demo-smoke test test-python test-cpp cpp bench clean test-sanitize fuzz fuzz-smoke fuzz-build test-cross-cpu

help:
	@echo "make demo   - set up, then run the main job end to end on the embedded demo dataset"
	@echo "make test   - set up, then run every test (pytest, CTest, CTest under ASan+UBSan, a fuzz smoke, INT8 on an emulated AVX2 CPU, a demo smoke)"
	@echo "make bench  - set up, then benchmark against the seed pipeline (benchmarks/results/)"
	@echo "make fuzz   - run each libFuzzer harness for FUZZ_SECONDS (default $(FUZZ_SECONDS)) seconds"

$(SYSTEM_STAMP): scripts/install_system_deps.sh
	bash scripts/install_system_deps.sh
	@mkdir -p $(dir $@) && touch $@

$(ORT_HEADERS): $(SYSTEM_STAMP)
	bash scripts/fetch_onnxruntime_headers.sh .deps
	touch $@

# Python dependencies: the build tools first (the editable build does not
# isolate itself, so rebuilds are incremental), then the extras.
$(DEPS_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "scikit-build-core>=0.10" "pybind11>=2.12" ninja "cmake>=3.20"
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q $$($(PY) scripts/list_extras.py train dev)
	touch $@

$(NATIVE_STAMP): $(DEPS_STAMP) $(ORT_HEADERS) $(NATIVE_SOURCES)
	$(PIP) install -q --no-build-isolation --no-deps -e .
	touch $@

setup: $(NATIVE_STAMP)

cpp: $(NATIVE_STAMP) $(CPP_TEST_SOURCES)
	$(CMAKE) -S . -B $(CPP_BUILD) -G Ninja -DDEFECTKIT_BUILD_TESTS=ON -DPython3_EXECUTABLE=$(abspath $(PY)) > /dev/null
	$(CMAKE) --build $(CPP_BUILD) -j $(JOBS)

test-python: setup
	$(PY) -m pytest -q

test-cpp: cpp
	$(CTEST) --test-dir $(CPP_BUILD) --output-on-failure -j $(JOBS)

# The C++ tests again, every target built with ASan and UBSan (gcc), leak
# checking on. ONNX Runtime is dlopen()ed and not instrumented (its memory is
# still seen through the malloc interceptors); it needs no suppressions: what
# it keeps is reachable from the loaded library until exit.
SANITIZE_BUILD ?= build/sanitize
# Sanitizer reports need file and line, not variables: -g1 (line tables) instead of -g keeps
# the instrumented builds a fraction of the size (full debug info made build/sanitize 1.6 GB,
# and a CI machine ran out of disk in the fuzz build after it).
LINE_TABLES := -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
SANITIZE_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
test-sanitize: $(NATIVE_STAMP) $(CPP_TEST_SOURCES)
	$(CMAKE) -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(LINE_TABLES) -DDEFECTKIT_BUILD_TESTS=ON \
	  -DDEFECTKIT_SANITIZE=address,undefined -DPython3_EXECUTABLE=$(abspath $(PY)) > /dev/null
	$(CMAKE) --build $(SANITIZE_BUILD) -j $(JOBS)
	$(SANITIZE_ENV) $(CTEST) --test-dir $(SANITIZE_BUILD) --output-on-failure -j $(JOBS)

# libFuzzer harnesses (tests/fuzz), built with clang and ASan+UBSan. Each
# runs FUZZ_SECONDS on a working corpus grown from the generated seeds and
# every past finding; new findings land in build/fuzz/findings/.
# FUZZ_LIMIT (when a run stops), FUZZ_TIMEOUT (seconds one input may take
# before it counts as a hang), FUZZ_CORPUS (the working corpus) and
# FUZZ_WRAPPER (a command the harness runs under) are what fuzz-smoke changes.
FUZZ_BUILD ?= build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_LIMIT ?= -max_total_time=$(FUZZ_SECONDS)
FUZZ_TIMEOUT ?= 10
FUZZ_CORPUS ?= $(FUZZ_BUILD)/corpus
FUZZ_WRAPPER ?=
FUZZ_TARGETS := strip_reader artifact_metadata image_reader
# clang 14 and its runtimes (libFuzzer, ASan, UBSan) from Debian 12.
fuzz-build: $(NATIVE_STAMP)
	bash scripts/install_system_deps.sh clang libclang-rt-14-dev
	CC=clang CXX=clang++ $(CMAKE) -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(LINE_TABLES) \
	  -DDEFECTKIT_BUILD_FUZZERS=ON -DDEFECTKIT_BUILD_TOOLS=OFF -DDEFECTKIT_SANITIZE=address,undefined \
	  -DPython3_EXECUTABLE=$(abspath $(PY)) > /dev/null
	$(CMAKE) --build $(FUZZ_BUILD) -j $(JOBS)

fuzz: fuzz-build
	$(FUZZ_BUILD)/tests/fuzz/defectkit_fuzz_seeds $(FUZZ_BUILD)/seeds
	$(FUZZ_BUILD)/tests/fuzz/defectkit_image_fuzz_seeds $(FUZZ_BUILD)/seeds
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_CORPUS)/$$t $(FUZZ_BUILD)/findings/$$t; \
	  echo "== fuzz_$$t $(FUZZ_LIMIT) (log: $(FUZZ_BUILD)/fuzz_$$t.log)"; \
	  $(SANITIZE_ENV) $(FUZZ_WRAPPER) $(FUZZ_BUILD)/tests/fuzz/fuzz_$$t $(FUZZ_LIMIT) -timeout=$(FUZZ_TIMEOUT) $(FUZZ_FLAGS) \
	    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/findings/$$t/ \
	    $(FUZZ_CORPUS)/$$t $(FUZZ_BUILD)/seeds/$$t tests/fuzz/regressions/$$t > $(FUZZ_BUILD)/fuzz_$$t.log 2>&1; \
	  rc=$$?; \
	  grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::number_of_executed_units|^stat::peak_rss_mb" $(FUZZ_BUILD)/fuzz_$$t.log; \
	  if [ $$rc -ne 0 ]; then tail -n 60 $(FUZZ_BUILD)/fuzz_$$t.log; exit 1; fi; \
	done

# What CI runs: a short fuzz of each harness, bounded by a count of runs and no time limit, so
# every machine runs 40,000 inputs however fast it is (a timed run stops early on a slow machine
# and reaches other inputs), and allows one input 120 s before calling it a hang, so a slow or
# loaded machine does not fail on time. Which inputs: from a fixed seed and an empty working
# corpus (seeds and regressions only, not what `make fuzz` grew), and with libFuzzer's timed
# corpus reload off. The path also changed with address randomisation (measured; the cause is
# likely compared values libFuzzer feeds back into its mutations), so the run disables it where
# the system allows (setarch -R; a container may forbid it, and the smoke then runs with it).
# So set, three smokes of each harness on one build took identical paths; with either the
# reload or address randomisation left on, runs diverged.
FUZZ_FIXED_ADDRESSES = $(shell setarch $$(uname -m) -R true > /dev/null 2>&1 && echo "setarch $$(uname -m) -R")
fuzz-smoke:
	rm -rf $(FUZZ_BUILD)/smoke_corpus
	$(MAKE) --no-print-directory fuzz FUZZ_LIMIT=-runs=40000 FUZZ_TIMEOUT=120 \
	  FUZZ_CORPUS=$(FUZZ_BUILD)/smoke_corpus FUZZ_FLAGS="-seed=1 -reload=0" FUZZ_WRAPPER="$(FUZZ_FIXED_ADDRESSES)"

test: setup
	$(MAKE) --no-print-directory -k test-python test-cpp test-sanitize fuzz-smoke test-cross-cpu demo-smoke

# INT8 on a CPU without AVX512-VNNI (the native runtime under QEMU's Haswell: tests/cross_cpu).
test-cross-cpu: setup
	bash scripts/install_system_deps.sh qemu-user
	DEFECTKIT_REQUIRE_QEMU=1 $(PY) -m pytest -q tests/cross_cpu

# The demo's whole path (synthesise -> train -> evaluate -> export FP32 and INT8 -> the C++ runtime
# -> latency) on a few small strips and a tiny network: every step must hand the next what it
# needs. Accuracy is not its question (make demo's is).
demo-smoke: setup
	rm -rf build/demo_smoke
	$(VENV)/bin/defectkit demo --smoke --out build/demo_smoke

# DEMO_ARGS passes options on, e.g. DEMO_ARGS="--train-seed 1 --precision fp32" (defectkit demo --help).
demo: setup
	$(VENV)/bin/defectkit demo --out $(DEMO_OUT) $(DEMO_ARGS)

# The benchmark needs the native module and the defectkit-bench tool, both installed by setup
# (the tool lands in $(VENV)/bin), and the bench extra (OpenVINO, NNCF) for the peer rows.
# BENCH_ARGS passes options on (make bench BENCH_ARGS=--help).
BENCH_STAMP := $(VENV)/.bench.stamp
# ONNX Runtime built with OpenVINO's execution provider (it bundles OpenVINO), beside the venv's
# onnxruntime (both are the `onnxruntime` module): the runtime opens its library by path.
ORT_OPENVINO := .deps/onnxruntime-openvino
$(BENCH_STAMP): $(DEPS_STAMP) pyproject.toml
	$(PIP) install -q $$($(PY) scripts/list_extras.py bench)
	$(PIP) install -q --no-deps --upgrade --target $(ORT_OPENVINO) onnxruntime-openvino==1.24.1
	touch $@

bench: setup $(BENCH_STAMP)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf build $(DEMO_OUT)
