# The two commands: `make run` (set up and run the system) and `make test` (set up and run the tests).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
HOST   ?= 127.0.0.1
PORT   ?= 5000
PYTEST_ARGS ?= -n 2

.PHONY: run test setup assets db bench clean

$(BIN)/python:
	$(shell command -v $(PYTHON) >/dev/null 2>&1 && echo $(PYTHON) || echo python3) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(VENV)/.installed assets

# Front-end packages from npm, bundled by esbuild into webapp/static/dist (served by the app itself).
assets: webapp/static/dist/.built
webapp/static/dist/.built: package.json $(wildcard package-lock.json) $(wildcard webapp/assets/*)
	@if [ -f package.json ]; then \
	  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; \
	  else npm install --no-audit --no-fund --loglevel=error; fi; \
	  npm run --silent build; \
	fi
	mkdir -p webapp/static/dist && touch $@

db: setup
	$(BIN)/whistle init --demo

# The secret key: one random key per install, kept outside the source tree (mode 0600), by default in
# $XDG_CONFIG_HOME/whistle-report/secret_key (~/.config/…); SECRET_KEY_FILE=… names another file.
SECRET_KEY_FILE ?=
run: db
	@$(BIN)/whistle users
	@key_file=$$($(BIN)/whistle secret-key $(if $(SECRET_KEY_FILE),--file '$(SECRET_KEY_FILE)')) || exit 1; \
	  echo "secret key: $$key_file"; \
	  echo "吹哨报到 running at http://$(HOST):$(PORT)  (Ctrl-C stops the web server and the timer worker)"; \
	  trap 'kill 0' INT TERM EXIT; \
	  $(BIN)/whistle worker & \
	  WHISTLE_SECRET_KEY_FILE="$$key_file" $(BIN)/whistle serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/whistle bench --json

clean:
	rm -rf $(VENV) node_modules webapp/static/dist *.egg-info
