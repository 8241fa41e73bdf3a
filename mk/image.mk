# The container image of iommud. Included by the top-level Makefile (RELEASE_BIN, the `release`
# target); mk/install.mk defines VERSION (from Version.swift) and SOURCE_DATE_EPOCH (the last commit).
#
#   make image   -> $(IMAGE_ARCHIVE): docker-archive of $(IMAGE_NAME), for `podman load -i` / `docker load -i`
#
# Built by packaging/container/build-image.sh from the release binary and the host's Debian packages
# (no base image is pulled); needs root; the Debian packages it uses are installed first if missing.
# A missing binary is built first; an existing one is packaged as it is (`make release image` for a
# fresh one), as `make deb` does. `make release-ordered image` packages the build with its link order
# file, as `make deb` ships it: the same code, 3 MB less idle RSS (BENCHMARKS.md).

IMAGE_REPOSITORY ?= localhost/iommud
IMAGE_NAME       ?= $(IMAGE_REPOSITORY):$(VERSION)
IMAGE_ARCHIVE    ?= build/iommud-$(VERSION)-image.tar
# org.opencontainers.image.* labels: the commit (with -dirty for uncommitted changes), where the
# source lives, and the licence. The project has not chosen its licence yet (packaging/debian/copyright);
# the libraries' licences are in the image under /usr/share/doc/*/copyright.
IMAGE_REVISION   ?= $(shell git -C $(IOMMUD_TOP) rev-parse HEAD 2>/dev/null)$(shell git -C $(IOMMUD_TOP) diff --quiet HEAD 2>/dev/null || echo -dirty)
IMAGE_SOURCE     ?= $(or $(shell git -C $(IOMMUD_TOP) remote get-url origin 2>/dev/null),local build (no git remote))
IMAGE_LICENSES   ?= LicenseRef-iommud-unlicensed

.PHONY: image
image: $(RELEASE_BIN)
	@$(IOMMUD_TOP)/scripts/install-deps.sh image
	IMAGE_NAME='$(IMAGE_NAME)' VERSION='$(VERSION)' REVISION='$(IMAGE_REVISION)' \
		SOURCE_DATE_EPOCH='$(SOURCE_DATE_EPOCH)' IMAGE_SOURCE='$(IMAGE_SOURCE)' IMAGE_LICENSES='$(IMAGE_LICENSES)' \
		DEFAULT_CONFIG='$(DEFAULT_CONFIG)' \
		$(IOMMUD_TOP)/packaging/container/build-image.sh '$(RELEASE_BIN)' '$(IMAGE_ARCHIVE)'
