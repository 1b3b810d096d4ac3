# sitewatch — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TRAIN  := $(VENV)/.installed-train
# torch is only for training (an extra); this release is the one the project is tested with
TORCH  := torch==2.14.1 torchvision==0.29.1
# Debian packages: Pango for the PDF report (WeasyPrint); Chromium, poppler (pdftoppm, pdfinfo)
# and GDAL's command-line tools (ogrinfo, ogr2ogr, gdalinfo: what users open exports with) for tests
PANGO  := $(VENV)/.installed-pango
BROWSER:= $(VENV)/.installed-browser
# PostgreSQL + PostGIS: the suite's second pass runs on a throwaway cluster (tests/pg.py)
POSTGIS:= $(VENV)/.installed-postgis
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# apt-get install $(1) unless $(2) succeeds; a failure is reported, and what needs it says so
APT_GET = $(2) || $(SUDO) apt-get install -y -q $(1) || \
	{ $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $(1); } || \
	echo "warning: could not apt-get install $(1)"
DEMO   := demo-workspace
SW     := $(BIN)/sitewatch --workspace $(DEMO)

.PHONY: setup setup-train setup-system demo serve web-assets test check-bare lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,pdf,web,gis,postgres,scale,sun]'
	touch $@

setup-train: $(TRAIN)

$(TRAIN): $(STAMP)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev,pdf,web,gis,postgres,scale,sun,train]'
	touch $@

setup-system: $(PANGO) $(BROWSER) $(POSTGIS)

$(PANGO): $(STAMP)
	@$(call APT_GET,libpango-1.0-0 libpangoft2-1.0-0,$(BIN)/python -c "import weasyprint" 2>/dev/null)
	touch $@

$(BROWSER): $(STAMP)
	@$(call APT_GET,chromium poppler-utils gdal-bin,command -v chromium >/dev/null && command -v pdftoppm >/dev/null && command -v ogrinfo >/dev/null)
	touch $@

$(POSTGIS): $(STAMP)
	@$(call APT_GET,postgresql-15 postgresql-15-postgis-3,ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1)
	touch $@

demo: setup $(PANGO)
	rm -rf $(DEMO)
	@echo "== airport (ungeoreferenced Pléiades scenes, illustrative dates) =="
	$(SW) site add demo-airport --reference examples/airport/ef92f434-c41b-4423-9218-4514c49f00c6.jpg
	$(SW) ingest examples/airport --site demo-airport
	@# an old scene passed off as new: an edited copy of the 2024-03-04 scene, presented as
	@# "2024-05-27" by a new source; verify recycled finds it (and that a2 and a3 are crops of
	@# one acquisition), so monitoring, the claims and the report leave them out as views
	$(BIN)/python examples/recycled/make_repost.py $(DEMO)/repost
	$(SW) ingest $(DEMO)/repost/repost-2024-05-27.jpg --site demo-airport
	$(SW) verify recycled --site demo-airport --json $(DEMO)/demo-airport-recycled.json
	@# and its file: Photoshop, and a capture time months before the date it claims
	$(SW) verify metadata --site demo-airport --json $(DEMO)/demo-airport-metadata.json
	$(SW) labels import examples/airport/annotations.csv --name demo-airport-truth
	$(SW) models list
	@# the airport scenes have no georeference: boxes go to COCO results and CSV (pixels), not GeoJSON
	@# two models side by side: aircraft, and the experimental vehicle model (its own series)
	$(SW) detect --site demo-airport --model sitewatch-aircraft --model sitewatch-vehicle \
		--coco $(DEMO)/demo-airport-detections.coco.json --csv $(DEMO)/demo-airport-detections.csv
	$(SW) labels export $(DEMO)/demo-airport-truth.coco.json --set demo-airport-truth
	$(SW) register demo-airport
	$(SW) monitor demo-airport
	$(SW) change demo-airport --out $(DEMO)/change-demo-airport
	@echo "== Joplin, MO (georeferenced GeoTIFF + COG in two CRSs) =="
	$(SW) site add joplin-south --aoi examples/joplin/aoi.geojson
	$(SW) ingest examples/joplin/joplin-pre.tif --acquired 2011-05-01 --illustrative \
		--provider "Maxar Open Data" --credit "Maxar Open Data (via xView2)" --licence "CC BY-NC 4.0"
	$(SW) ingest examples/joplin/joplin-post.tif --acquired 2011-05-23 --illustrative \
		--provider "Maxar Open Data" --credit "Maxar Open Data (via xView2)" --licence "CC BY-NC 4.0"
	$(SW) register joplin-south
	@# the change model: measured on real destroyed buildings and quiet pairs, so its alert
	@# and the destruction claim below are decided (IR-MAD, the default, would not decide)
	$(SW) change joplin-south --method model --out $(DEMO)/change-joplin-south
	$(SW) detect --site joplin-south
	$(SW) export joplin-south $(DEMO)/joplin-south.gpkg
	$(SW) export joplin-south $(DEMO)/joplin-south.kmz
	$(SW) export joplin-south $(DEMO)/joplin-south-footprints.geojson --layer footprints
	$(SW) export joplin-south $(DEMO)/joplin-south-post-in-frame.tif \
		--image examples/joplin/joplin-post.tif
	$(SW) site list
	$(SW) site show demo-airport
	$(SW) site show joplin-south
	@echo "== claims ledger (illustrative claims about the demo airport and Joplin) =="
	$(SW) claim import examples/claims/demo-airport-claims.yaml
	$(SW) claim add --site demo-airport --expects construction --from 2024-04-01 --to 2024-06-30 \
		--text "A new hangar is being built on the north side of the airport." \
		--source "kind=government;outlet=Example Ministry of Defence;date=2024-06-20;url=https://example.org/mod"
	$(SW) claim add --site joplin-south --expects destruction --from 2011-05-22 --to 2011-05-23 \
		--text "The tornado of 22 May destroyed most of the houses in this part of Joplin." \
		--source "kind=media;outlet=Example Wire;date=2011-05-24;url=https://example.org/wire/joplin"
	$(SW) claim list
	$(SW) claim export --format claimreview --out $(DEMO)/claims.jsonld
	@echo "== analyst report =="
	$(SW) report demo-airport --out $(DEMO)/demo-airport-report.html --pdf $(DEMO)/demo-airport-report.pdf
	$(SW) report joplin-south --out $(DEMO)/joplin-south-report.html --pdf $(DEMO)/joplin-south-report.pdf
	@echo "== dashboard =="
	@echo "run 'make serve' and open the address it prints (http://127.0.0.1:8000/?token=...)"

# the dashboard on the demo workspace (run `make demo` first); Ctrl-C stops it
serve: setup
	@test -f $(DEMO)/catalog.sqlite || $(MAKE) demo
	$(SW) serve --port $${PORT:-8000}

# Leaflet comes from npm (pinned in package-lock.json) and is committed under static/vendor,
# so installs and the running dashboard never need the network
FRONTEND := src/sitewatch/web/frontend
VENDOR   := src/sitewatch/web/static/vendor
web-assets:
	# --ignore-scripts: no package's install script runs (swagger-ui-dist pulls in a telemetry one)
	cd $(FRONTEND) && npm ci --no-audit --no-fund --ignore-scripts
	rm -rf $(VENDOR)/leaflet && mkdir -p $(VENDOR)/leaflet
	cp -r $(FRONTEND)/node_modules/leaflet/dist/leaflet.js $(FRONTEND)/node_modules/leaflet/dist/leaflet.css \
		$(FRONTEND)/node_modules/leaflet/dist/images $(FRONTEND)/node_modules/leaflet/LICENSE \
		$(VENDOR)/leaflet/
	rm -rf $(VENDOR)/swagger-ui && mkdir -p $(VENDOR)/swagger-ui
	cd $(FRONTEND)/node_modules/swagger-ui-dist && cp swagger-ui-bundle.js \
		swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE $(CURDIR)/$(VENDOR)/swagger-ui/

lint: setup-train  # mypy checks the training code against torch too
	$(BIN)/ruff check src tests bench examples
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/ruff format --check src tests bench examples

format: setup
	$(BIN)/ruff format src tests bench examples
	$(BIN)/ruff check --fix src tests bench examples

# the whole suite twice: on SQLite files, then on PostgreSQL + PostGIS
test: lint setup-train setup-system
	$(BIN)/python -m pytest
	SITEWATCH_TEST_BACKEND=postgresql $(BIN)/python -m pytest
	$(MAKE) check-bare

# the package installed bare (`pip install .`, no extras) runs the core commands, so a
# dependency used but not declared fails here rather than at a user's
BARE    := .venv-bare
BARE_WS := $(BARE)/workspace
BARE_SW := $(BARE)/bin/sitewatch --workspace $(BARE_WS)
check-bare:
	rm -rf $(BARE) && $(PYTHON) -m venv $(BARE)
	$(BARE)/bin/pip install --quiet .
	$(BARE_SW) site add demo-airport --reference examples/airport/ef92f434-c41b-4423-9218-4514c49f00c6.jpg
	$(BARE_SW) ingest examples/airport --site demo-airport
	$(BARE_SW) detect --site demo-airport --coco $(BARE_WS)/detections.json --csv $(BARE_WS)/detections.csv
	$(BARE_SW) register demo-airport
	$(BARE_SW) monitor demo-airport
	$(BARE_SW) claim import examples/claims/demo-airport-claims.yaml
	$(BARE_SW) claim list
	$(BARE_SW) report demo-airport --out $(BARE_WS)/report.html
	$(BARE_SW) site add joplin-south --aoi examples/joplin/aoi.geojson
	$(BARE_SW) ingest examples/joplin/joplin-pre.tif --acquired 2011-05-01 --illustrative
	$(BARE_SW) ingest examples/joplin/joplin-post.tif --acquired 2011-05-23 --illustrative
	$(BARE_SW) register joplin-south
	$(BARE_SW) change joplin-south --out $(BARE_WS)/change
	$(BARE_SW) change joplin-south --method model --out $(BARE_WS)/change-model
	$(BARE_SW) claim add --site joplin-south --expects destruction --from 2011-05-22 --to 2011-05-23 \
		--text "The tornado destroyed most of the houses here." --source "kind=media;outlet=Example Wire"
	$(BARE_SW) export joplin-south $(BARE_WS)/joplin.kml
	$(BARE_SW) export joplin-south $(BARE_WS)/joplin.csv --layer footprints
	$(BARE_SW) verify recycled --site demo-airport --json $(BARE_WS)/recycled.json
	$(BARE_SW) verify metadata --site demo-airport --json $(BARE_WS)/metadata.json
	@# verify sun needs the sun extra (pvlib): bare, it says which in one line and exits 1
	! $(BARE_SW) verify sun --at 37.08,-94.51 --time 2011-05-24T15:00Z 2> $(BARE_WS)/sun.err
	grep -q "sitewatch\[sun\]" $(BARE_WS)/sun.err
	$(BARE_SW) check
	@echo "bare install: core commands ran"

clean:
	rm -rf $(VENV) $(BARE) $(DEMO) .pytest_cache .ruff_cache
