# smb.alternative_ports: `make demo` and `make test` are the two commands the README promises.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
TMP := .tmp
COLLECTION_DIR := $(TMP)/sanity/ansible_collections/smb/alternative_ports
DEMO_COLLECTIONS := $(TMP)/demo-collections
GET_PIP := $(HOME)/.ansible/test/cache/get_pip_24_2.py
export ANSIBLE_NOCOLOR := 1
export PY_COLORS := 0

.PHONY: demo test venv lint unit pytest docs packaging sanity ansible-lint molecule install-collection collection-link clean

$(BIN)/.stamp: requirements.txt requirements-test.txt $(wildcard roles/pysmbd/files/pysmbd/pyproject.toml)
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required: apt-get install python3.11 python3.11-venv"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	if [ -f roles/pysmbd/files/pysmbd/pyproject.toml ]; then $(BIN)/python -m pip install --quiet -e roles/pysmbd/files/pysmbd; fi
	touch $@

venv: $(BIN)/.stamp

install-collection: venv
	rm -rf $(TMP)/build && mkdir -p $(TMP)/build $(DEMO_COLLECTIONS)
	$(BIN)/ansible-galaxy collection build --force --output-path $(TMP)/build .
	$(BIN)/ansible-galaxy collection install --force -p $(DEMO_COLLECTIONS) $(TMP)/build/smb-alternative_ports-*.tar.gz

demo: install-collection
	PATH=$(abspath $(BIN)):$$PATH ANSIBLE_COLLECTIONS_PATH=$(abspath $(DEMO_COLLECTIONS)) \
	  $(BIN)/ansible-playbook -i localhost, -c local -e ansible_python_interpreter=$(abspath $(BIN))/python playbooks/demo.yml

test: lint pytest docs packaging sanity ansible-lint molecule

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || { echo "run: $(BIN)/ruff format ."; exit 1; }

pytest: venv
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest -q --ignore=tests/docs --ignore=tests/packaging

# Every module's EXAMPLES through ansible-playbook --syntax-check, role argument specs, and antsibull-docs'
# lint of docs/docsite and of every plugin's and role's documentation.
docs: venv
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest -q tests/docs

# The collection as users get it, built with ansible-galaxy: ansible-builder introspect and create (the
# execution environment), and galaxy-importer with no error or warning (tests/packaging/galaxy-importer.cfg).
# Its own basetemp: the session builds one tarball, and other pytest runs must not clean it away mid-run.
packaging: venv
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest -q --basetemp=$(abspath $(TMP))/pytest-packaging tests/packaging

# ansible-test wants the collection under ansible_collections/NS/NAME; it fetches a pip bootstrap from
# the internet unless one is cached, so we cache a stand-in that uses ensurepip (works offline).
$(GET_PIP):
	mkdir -p $(dir $@)
	printf '%s\n' \
	  'import subprocess, sys' \
	  'args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]' \
	  'subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])' \
	  'subprocess.check_call([sys.executable, "-m", "pip", "install", *args])' > $@

sanity: venv $(GET_PIP)
	rm -rf $(TMP)/sanity && mkdir -p $(COLLECTION_DIR)
	git ls-files -co --exclude-standard -z | grep -zv '^\.ci/' | xargs -0 cp --parents -t $(COLLECTION_DIR)
	# The copy lives under the ignored .tmp/: give it its own git index, or ansible-test skips every file.
	cd $(COLLECTION_DIR) && git init -q && git add -A
	cd $(COLLECTION_DIR) && PATH=$(abspath $(BIN)):$$PATH $(abspath $(BIN))/ansible-test sanity --color no --python 3.11 --requirements

ansible-lint: venv
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/ansible-lint --profile production --offline

# Tests and molecule see the working tree through this link (tests/support/collection.py lays the same one).
collection-link:
	mkdir -p $(TMP)/collections/ansible_collections/smb
	ln -sfn $(abspath .) $(TMP)/collections/ansible_collections/smb/alternative_ports

molecule: venv collection-link
	@if [ -d molecule ] && ls molecule/*/molecule.yml >/dev/null 2>&1; then \
	  for s in $$(ls molecule); do [ -f molecule/$$s/molecule.yml ] || continue; \
	    [ "$$s" = windows-real ] && continue; \
	    PATH=$(abspath $(BIN)):$$PATH ANSIBLE_COLLECTIONS_PATH=$(abspath $(TMP))/collections $(BIN)/molecule test -s $$s || exit 1; done; \
	  echo "molecule windows again, the emulated host answering enum properties as the CIM classes' numbers"; \
	  SMB_AP_WINDOWS_ENUMS=numbers PATH=$(abspath $(BIN)):$$PATH ANSIBLE_COLLECTIONS_PATH=$(abspath $(TMP))/collections \
	    $(BIN)/molecule test -s windows || exit 1; \
	else echo "no molecule scenarios yet"; fi

clean:
	rm -rf $(TMP) $(VENV)
