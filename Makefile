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

.PHONY: help setup demo test test-python test-cpp cpp bench clean

help:
	@echo "make demo   - set up, then run the main job end to end on the embedded demo dataset"
	@echo "make test   - set up, then run every test (pytest and CTest)"
	@echo "make bench  - set up, then benchmark against the seed pipeline (benchmarks/results/)"

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

test: setup
	$(MAKE) --no-print-directory -k test-python test-cpp

demo: setup
	$(VENV)/bin/defectkit demo --out $(DEMO_OUT)

# The benchmark needs the native module and the defectkit-bench tool, both installed by setup
# (the tool lands in $(VENV)/bin). BENCH_ARGS passes options on (benchmarks/run.py --help).
bench: setup
	$(PY) benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf build $(DEMO_OUT)
