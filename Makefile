# Two commands for a new user: `make run` and `make test`. Everything else is a step they call.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENDOR := academy/static/vendor
FLASK := $(BIN)/flask --app wsgi

.PHONY: install run test test-sqlite test-postgres lint format migrate demo bench clean

install: $(VENV)/.installed $(VENDOR)/.installed

# Re-run pip only when the project's dependencies change.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Front-end assets come from npm (package-lock.json pins them) and are copied into the static
# folder, so pages never load anything from a CDN.
$(VENDOR)/.installed: package.json package-lock.json academy/static/scss/academy.scss
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR)
	mkdir -p $(VENDOR)/nhsuk-frontend $(VENDOR)/swagger-ui $(VENDOR)/axe-core
	node_modules/.bin/sass --no-source-map --style=compressed --load-path=node_modules \
	   --quiet-deps academy/static/scss/academy.scss $(VENDOR)/academy.css
	cp node_modules/nhsuk-frontend/dist/nhsuk/nhsuk-frontend.min.js $(VENDOR)/nhsuk-frontend/
	cp -r node_modules/nhsuk-frontend/dist/nhsuk/assets/. $(VENDOR)/nhsuk-frontend/
	cp node_modules/swagger-ui-dist/swagger-ui.css node_modules/swagger-ui-dist/swagger-ui-bundle.js \
	   node_modules/swagger-ui-dist/swagger-ui-standalone-preset.js $(VENDOR)/swagger-ui/
	cp node_modules/axe-core/axe.min.js $(VENDOR)/axe-core/
	touch $@

migrate: install
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) academy demo

run: demo
	@echo ""
	@echo "Academy is starting on http://127.0.0.1:5000 (Ctrl-C to stop)."
	@echo "Sign in with one of the demo logins printed above."
	$(FLASK) run --host 127.0.0.1 --port 5000

# The whole suite; TEST_DATABASE_URL=postgresql+psycopg://... runs it against PostgreSQL.
test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The performance benchmark on the local PostgreSQL (docs/performance.md); BENCH_ARGS=--quick for a
# small scale that runs in a few minutes.
bench: install
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache
