# advlab: `make book` regenerates every result (quick CPU profile) and builds the HTML book;
# `make test` runs the tests. Both create or reuse a virtualenv keyed by requirements.lock.
SHELL := /bin/bash
PYTHON ?= python3
LOCK_HASH := $(shell sha256sum requirements.lock | cut -c1-12)
# TORCH=cpu: the CPU build of the pinned torch and torchvision from PyTorch's own index, without the CUDA
# packages of the lock (a laptop saves about 5 GB); empty (the default): exactly the lock.
TORCH ?=
ifneq ($(filter-out cpu,$(TORCH)),)
$(error TORCH must be empty or cpu, got '$(TORCH)')
endif
CPU_INDEX := https://download.pytorch.org/whl/cpu
CUDA_PACKAGES := ^(nvidia-|cuda-|triton==)
VENV ?= $(HOME)/.cache/advlab/venv-$(LOCK_HASH)$(if $(TORCH),-$(TORCH))
BIN := $(VENV)/bin
PROFILE ?= quick
FORCE_FLAG := $(if $(FORCE),--force)
SHARED_DATA := $(abspath ../shared/data)
export ADVLAB_DATA_MIRROR ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA))
export OMP_WAIT_POLICY := PASSIVE
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: env test book run coursework binder clean
env: $(VENV)/.complete
	@$(BIN)/python -c "import advlab, sys; sys.exit(advlab.__file__ != '$(CURDIR)/lib/advlab/__init__.py')" 2>/dev/null \
		&& [ -x $(BIN)/advlab ] \
		|| $(BIN)/pip install -q --no-deps --no-build-isolation -e .

# The venv's name carries the lock's hash, so it is rebuilt exactly when the pins change.
$(VENV)/.complete:
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(if $(TORCH),grep -v -E '$(CUDA_PACKAGES)' requirements.lock,cat requirements.lock) > $(VENV)/requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
		$(if $(TORCH),--extra-index-url $(CPU_INDEX)) -r $(VENV)/requirements.txt
	touch $@

test: env
	$(BIN)/python -m pytest

book: env
	$(BIN)/advlab book --profile $(PROFILE) $(FORCE_FLAG)

# make run NB=ddn PROFILE=full; FORCE=1 reruns notebooks whose inputs are unchanged
run: env
	$(BIN)/advlab run $(NB) --profile $(PROFILE) $(FORCE_FLAG)

# student notebooks and autograders of every assignment under _build/coursework/
coursework: env
	$(BIN)/advlab coursework build

# Binder (binder/postBuild): the lock with torch's CPU build into the image's own Python, and every chapter as an
# unexecuted notebook at the path of its book page, so the book's launch buttons open it.
binder:
	grep -v -E '$(CUDA_PACKAGES)' requirements.lock > $(HOME)/requirements-cpu.txt
	$(PYTHON) -m pip install -q "setuptools<81"  # builds visdom's sdist (its setup.py imports pkg_resources)
	$(PYTHON) -m pip install -q --no-deps --no-build-isolation --extra-index-url $(CPU_INDEX) -r $(HOME)/requirements-cpu.txt
	$(PYTHON) -m pip install -q --no-deps --no-build-isolation -e .
	mkdir -p book/chapters
	for notebook in notebooks/*.py; do \
		$(PYTHON) -m jupytext --quiet --to ipynb $$notebook -o book/chapters/$$(basename $$notebook .py).ipynb; done

clean:
	rm -rf _build book/chapters
