# advlab: `make book` regenerates every result (quick CPU profile) and builds the HTML book;
# `make test` runs the tests. Both create or reuse a virtualenv keyed by requirements.lock.
SHELL := /bin/bash
PYTHON ?= python3
LOCK_HASH := $(shell sha256sum requirements.lock | cut -c1-12)
VENV ?= $(HOME)/.cache/advlab/venv-$(LOCK_HASH)
BIN := $(VENV)/bin
PROFILE ?= quick
FORCE_FLAG := $(if $(FORCE),--force)
SHARED_DATA := $(abspath ../shared/data)
export ADVLAB_DATA_MIRROR ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA))
export OMP_WAIT_POLICY := PASSIVE
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: env test book run coursework clean
env: $(VENV)/.complete
	@$(BIN)/python -c "import advlab, sys; sys.exit(advlab.__file__ != '$(CURDIR)/lib/advlab/__init__.py')" 2>/dev/null \
		&& [ -x $(BIN)/advlab ] \
		|| $(BIN)/pip install -q --no-deps --no-build-isolation -e .

# The venv's name carries the lock's hash, so it is rebuilt exactly when the pins change.
$(VENV)/.complete:
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -r requirements.lock
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

clean:
	rm -rf _build book/chapters
