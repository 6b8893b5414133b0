# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# joule's one entry point: deps, build, test, bench, fuzz, install.

.DELETE_ON_ERROR:
.SUFFIXES:
# Keep the separately built fuzz objects between runs.
.SECONDARY:

# Quiet by default; V=1 shows every command.
ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

UNAME_M := $(shell uname -m)
ifeq ($(UNAME_M),x86_64)
ARCH := x86
else ifeq ($(UNAME_M),aarch64)
ARCH := arm64
else
$(error unsupported architecture '$(UNAME_M)': joule's BPF programs build for x86_64 and aarch64 only)
endif

BUILD     ?= build
PREFIX    ?= /usr/local
DESTDIR   ?=
CC        ?= cc
CLANG     ?= clang
BPFTOOL   ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
VMLINUX_H ?= vmlinux/$(ARCH)/vmlinux.h
ifeq ($(wildcard $(VMLINUX_H)),)
ifeq ($(filter vmlinux clean deps,$(MAKECMDGOALS)),)
$(error no $(VMLINUX_H): joule vendors it for x86 only; on this machine run 'make vmlinux' (needs /sys/kernel/btf/vmlinux) or pass VMLINUX_H=path/to/vmlinux.h)
endif
endif
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)

# CPPFLAGS, CFLAGS and LDFLAGS from the environment (dpkg-buildflags) are honoured;
# joule's own flags are added after them.
CFLAGS    ?= -O2 -g
override CPPFLAGS += -D_GNU_SOURCE -DJOULE_VERSION='"$(VERSION)"' -Iinclude -I$(BUILD)
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter
LDLIBS    := -lbpf -lelf -lz -lcjson -lmicrohttpd -lgnutls -lyaml -lcrypt -lsodium -linih -lcurl -lm -lpthread
# -mcpu=v3: atomic exchange (the snapshot takes a thread's pending ns from another CPU).
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-I$(dir $(VMLINUX_H)) -Iinclude

# user/ holds the glue; user/<layer>/ the layers (see docs/ARCHITECTURE.md).
USER_SRCS := $(filter-out user/cmd/main.c,$(wildcard user/*.c user/*/*.c))
USER_OBJS := $(patsubst user/%.c,$(BUILD)/obj/%.o,$(USER_SRCS))
# ar keys members by file name: two sources with one name would silently replace each other.
DUP_NAMES := $(strip $(shell printf '%s\n' $(notdir $(USER_SRCS)) user/cmd/main.c | sort | uniq -d))
ifneq ($(DUP_NAMES),)
$(error two sources under user/ share a file name ($(DUP_NAMES)); libjoule.a needs unique names)
endif
LIBJOULE  := $(BUILD)/libjoule.a
SKEL      := $(BUILD)/joule.skel.h
# The test object (raw_tp wrappers, test globals) has its own skeleton, used only by tests/bpf.
TEST_SKEL := $(BUILD)/joule_test.skel.h
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
BPF_TESTS  := $(patsubst tests/bpf/%.c,$(BUILD)/tests/%,$(wildcard tests/bpf/test_*.c))
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS  := $(patsubst user/%.c,$(BUILD)/fuzz/obj/%.o,$(USER_SRCS))
# The fake NVML (tests only: no GPU here) is named like the real one so --nvml-lib can point at it.
FAKE_NVML  := $(BUILD)/fake-nvml/libnvidia-ml.so.1
TOOLS      := $(BUILD)/fake-rapl $(FAKE_NVML)
UNIT       := $(BUILD)/dist/joule.service

# 'make' needs only the build packages; 'make test' adds the test-only ones.
DEPS_STAMP      := $(BUILD)/.deps-build-ok
TEST_DEPS_STAMP := $(BUILD)/.deps-test-ok

.PHONY: FORCE vendor-web all deps deps-test test check check-layers bench-build bench fuzz run install uninstall unit test-package image clean vmlinux tools test-asan asan-build test-rules

# The man page and bash completion are written by the binary from its own option tables.
DOCS := $(BUILD)/joule.1 $(BUILD)/joule.bash-completion

all: $(BUILD)/joule $(TOOLS) $(DOCS) $(UNIT)

# Installs only the Debian packages that are missing (apt-get); a no-op after the first run.
deps: $(DEPS_STAMP)
$(DEPS_STAMP): tools/deps.sh
	$(Q)mkdir -p $(BUILD)
	$(Q)tools/deps.sh build
	$(Q)touch $@

deps-test: $(TEST_DEPS_STAMP)
$(TEST_DEPS_STAMP): tools/deps.sh $(DEPS_STAMP)
	$(Q)tools/deps.sh test
	$(Q)touch $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c bpf/joule.bpf.h include/joule/joule_bpf.h $(VMLINUX_H) | $(DEPS_STAMP)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $(@:.o=.d) -MT $@ -c $< -o $(@:.o=.tmp.o)
	$(Q)$(BPFTOOL) gen object $@ $(@:.o=.tmp.o)

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(BUILD)/obj/%.o: user/%.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The OpenAPI documents are real files (user/http/openapi.json, user/fleet/openapi.json), embedded as bytes
# at build time: $(call embed_bytes,NAME) writes $< as `static const unsigned char NAME[]` and NAME_len.
embed_bytes = { echo '/* generated from $< by the Makefile */'; \
	  echo 'static const unsigned char $(1)[] = {'; \
	  od -An -v -tx1 $< | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '};'; \
	  echo 'static const size_t $(1)_len = sizeof($(1));'; } > $@
OPENAPI_H := $(BUILD)/http_openapi.h
FLEET_OPENAPI_H := $(BUILD)/fleet_openapi.h
$(OPENAPI_H) $(FLEET_OPENAPI_H): $(BUILD)/%_openapi.h: user/%/openapi.json
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(call embed_bytes,$*_openapi_json)
$(BUILD)/obj/http/server.o $(BUILD)/fuzz/obj/http/server.o: $(OPENAPI_H)
$(BUILD)/obj/fleet/fleet_openapi.o $(BUILD)/fuzz/obj/fleet/fleet_openapi.o: $(FLEET_OPENAPI_H)

# The live page (web/) and the vendored uPlot, embedded the same way: one array per file, named by its
# path under web/. The build needs no network: web/vendor/ is committed (make vendor-web refreshes it).
WEB_FILES := web/index.html web/app.js web/app.css web/vendor/uplot/uPlot.iife.min.js \
	web/vendor/uplot/uPlot.min.css web/vendor/uplot/LICENSE
PAGE_H := $(BUILD)/http_page_files.h
$(PAGE_H): $(WEB_FILES)
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q){ echo '/* generated from web/ by the Makefile */'; i=0; \
	  for f in $(WEB_FILES); do \
	    echo "static const unsigned char web_$$i[] = {"; \
	    od -An -v -tx1 $$f | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	    echo '};'; i=$$((i+1)); \
	  done; \
	  echo 'static const struct page_blob web_files[] = {'; i=0; \
	  for f in $(WEB_FILES); do \
	    echo "	{ \"$${f#web}\", web_$$i, sizeof(web_$$i) },"; i=$$((i+1)); \
	  done; \
	  echo '};'; } > $@
$(BUILD)/obj/http/page.o $(BUILD)/fuzz/obj/http/page.o: $(PAGE_H)

# Refresh web/vendor/uplot from npm (the only step that needs the network); commit the result.
UPLOT_VERSION := 1.6.32
vendor-web:
	$(Q)rm -rf $(BUILD)/vendor-web && mkdir -p $(BUILD)/vendor-web
	$(Q)cd $(BUILD)/vendor-web && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null && tar xzf uplot-$(UPLOT_VERSION).tgz
	$(Q)cp $(BUILD)/vendor-web/package/dist/uPlot.iife.min.js $(BUILD)/vendor-web/package/dist/uPlot.min.css \
		$(BUILD)/vendor-web/package/LICENSE web/vendor/uplot/
	$(Q)echo "web/vendor/uplot: uplot $(UPLOT_VERSION) from npm; update web/VENDOR.md if the version changed"

# Only the tracer includes the skeleton; nothing else waits for (or rebuilds with) the BPF object.
$(BUILD)/obj/kernel/tracer.o $(BUILD)/fuzz/obj/kernel/tracer.o: $(SKEL)

$(LIBJOULE): $(USER_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/joule: $(BUILD)/obj/cmd/main.o $(LIBJOULE)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/joule.1: $(BUILD)/joule
	$(call msg,MAN,$@)
	$(Q)$(BUILD)/joule help --man > $@

$(BUILD)/joule.bash-completion: $(BUILD)/joule
	$(call msg,GEN,$@)
	$(Q)$(BUILD)/joule help --completion bash > $@

$(BUILD)/fake-rapl: tools/fake-rapl/fake-rapl.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< -lm -o $@

$(FAKE_NVML): tests/fake-nvml/fake_nvml.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -shared $(LDFLAGS) $< -lpthread -o $@

tools: $(TOOLS)

$(BUILD)/tests/%: tests/unit/%.c $(LIBJOULE) | $(TEST_DEPS_STAMP)
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Itests -MMD -MP $< $(LIBJOULE) $(LDFLAGS) $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/%: tests/bpf/%.c $(LIBJOULE) $(SKEL) $(TEST_SKEL) | $(TEST_DEPS_STAMP)
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Itests -MMD -MP $< $(LIBJOULE) $(LDFLAGS) $(LDLIBS) -lcmocka -o $@

# Fuzz targets: libFuzzer + ASan/UBSan over the same sources, built apart.
# The environment's CFLAGS may carry gcc-only or hardening flags clang's sanitizers reject.
FUZZ_CFLAGS := -O1 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
	-fsanitize=fuzzer-no-link,address,undefined
$(BUILD)/fuzz/obj/%.o: user/%.c | $(TEST_DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -fsanitize=fuzzer $< $(FUZZ_OBJS) $(LDLIBS) -o $@

# Every #include "joule/..." against the layer rules in tools/layers.rules.
check-layers:
	$(Q)tools/check-layers

# Suites with their own make target (each prints "N passed, N failed" or exits 77 to skip with a reason).
EXTRA_SUITES ?= test-asan
EXTRA_SUITES += test-package

# promtool unit tests of every shipped recording rule and alert.
test-rules: | $(TEST_DEPS_STAMP)
	$(Q)promtool test rules dist/prometheus/tests/*.yml

test: deps-test all check-layers test-rules bench-build $(UNIT_TESTS) $(BPF_TESTS) $(FUZZ_BINS)
	$(Q)BUILD=$(BUILD) EXTRA_SUITES="$(EXTRA_SUITES)" tests/run-tests

# The ledger and HTTP unit tests again under ASan + UBSan, in their own build directory, so the
# next use-after-free or memcpy(NULL, .., 0) fails 'make test'. Every tests/unit/test_ledger*.c
# and test_http*.c found is built and run; the last line is "N passed, N failed".
ASAN_BUILD  ?= build-asan
# -O1 makes gcc guess at snprintf truncation it does not see at -O2: not what this build is for.
ASAN_FLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
	-Wno-format-truncation
ASAN_TESTS  := $(patsubst tests/unit/%.c,$(ASAN_BUILD)/tests/%,$(wildcard tests/unit/test_ledger*.c tests/unit/test_http*.c))
asan-build:
	$(Q)$(MAKE) --no-print-directory $(if $(Q),-s) BUILD=$(ASAN_BUILD) CFLAGS="$(ASAN_FLAGS)" \
		LDFLAGS="-fsanitize=address,undefined" $(ASAN_TESTS)

test-asan: asan-build
	$(Q)mkdir -p $(ASAN_BUILD)/test-logs; p=0; f=0; echo "== unit tests under ASan + UBSan ($(ASAN_BUILD))"; \
	for t in $(ASAN_TESTS); do \
		n=$$(basename $$t); log=$(ASAN_BUILD)/test-logs/$$n.log; \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			$$t >$$log 2>&1; rc=$$?; \
		tp=$$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' $$log | tail -n1); \
		tf=$$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' $$log | tail -n1); \
		tp=$${tp:-0}; tf=$${tf:-0}; [ $$rc -ne 0 ] && [ $$tf -eq 0 ] && tf=1; \
		printf '  %-40s %3d passed, %d failed%s\n' "asan/$$n" $$tp $$tf "$$([ $$tf -ne 0 ] && echo " (see $$log)")"; \
		p=$$((p + tp)); f=$$((f + tf)); \
	done; echo "$$p passed, $$f failed"; [ $$f -eq 0 ]

check: test

# Longer fuzzing than the bounded run inside 'make test'.
FUZZ_SECONDS ?= 300
fuzz: $(FUZZ_BINS)
	$(Q)for f in $(FUZZ_BINS); do \
		n=$$(basename $$f); mkdir -p $(BUILD)/corpus/$$n; \
		$$f -max_total_time=$(FUZZ_SECONDS) $(BUILD)/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

bench: all
	$(Q)BUILD=$(BUILD) tools/bench/run-bench

# The benchmark helpers build in 'make test' too, so a change of the core's types cannot break
# 'make bench' unnoticed (it did once: tools/bench/ledger-disk.c).
bench-build: all
	$(Q)$(MAKE) -s --no-print-directory -f tools/bench/bench.mk BUILD=$(BUILD)

# The README's first command: joule's main job on a short demo workload.
run: all
	$(BUILD)/joule run -- stress-ng --cpu 1 --timeout 3s --quiet

BINDIR           ?= $(PREFIX)/bin
SYSCONFDIR       ?= /etc
DATADIR          ?= $(PREFIX)/share
MANDIR           ?= $(DATADIR)/man
SYSTEMD_UNIT_DIR ?= /lib/systemd/system
SYSUSERS_DIR     ?= /usr/lib/sysusers.d
BASHCOMP_DIR     ?= $(DATADIR)/bash-completion/completions
ZSHCOMP_DIR      ?= $(DATADIR)/zsh/vendor-completions
# The Python client (one stdlib module): Debian's python3 reads /usr/lib/python3/dist-packages for
# packages and /usr/local/lib/python3.X/dist-packages for local installs.
PY3VER            = $(shell /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3)
PYTHONDIR        ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/python3/dist-packages,$(PREFIX)/lib/python$(PY3VER)/dist-packages)

# The unit runs the binary this install puts in BINDIR, with the config in SYSCONFDIR.
# The paths are recorded so that 'make install PREFIX=/usr' after a plain 'make' regenerates it.
$(BUILD)/dist/unit.vars: FORCE
	$(Q)mkdir -p $(@D)
	$(Q)echo '$(BINDIR) $(SYSCONFDIR)' | cmp -s - $@ 2>/dev/null || echo '$(BINDIR) $(SYSCONFDIR)' > $@

$(UNIT): dist/systemd/joule.service.in $(BUILD)/dist/unit.vars
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@.tmp && mv $@.tmp $@

unit: $(UNIT)

# Man pages and completions, when the tree has them: generated under $(BUILD) by 'all'
# (hence '=': looked up when install runs) or kept in dist/completion/.
MAN_PAGES  = $(wildcard $(BUILD)/*.[1-8] $(BUILD)/man/*.[1-8])
BASH_COMPS = $(firstword $(wildcard $(BUILD)/joule.bash-completion dist/completion/joule dist/completion/joule.bash))
ZSH_COMPS  = $(firstword $(wildcard $(BUILD)/joule.zsh-completion dist/completion/_joule))

# The binary, the unit and sysusers entry, the config (never overwritten; 0640 root:joule),
# Prometheus files, man pages and completions. As root without DESTDIR it also creates the
# joule user and group (systemd-sysusers) so the config can be given to the group.
install: all $(UNIT)
	install -D -m 0755 $(BUILD)/joule $(DESTDIR)$(BINDIR)/joule
	install -D -m 0644 $(UNIT) $(DESTDIR)$(SYSTEMD_UNIT_DIR)/joule.service
	install -D -m 0644 dist/sysusers.d/joule.conf $(DESTDIR)$(SYSUSERS_DIR)/joule.conf
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/joule/joule.conf ]; then \
		echo "  keeping $(DESTDIR)$(SYSCONFDIR)/joule/joule.conf"; \
	else \
		install -D -m 0640 dist/joule.conf $(DESTDIR)$(SYSCONFDIR)/joule/joule.conf; \
	fi
	install -D -m 0644 dist/prometheus/joule.rules.yml $(DESTDIR)$(DATADIR)/joule/prometheus/joule.rules.yml
	install -D -m 0644 dist/prometheus/prometheus.yml $(DESTDIR)$(DATADIR)/joule/prometheus/prometheus.yml
	install -D -m 0644 dist/web-config.yml $(DESTDIR)$(DATADIR)/joule/web-config.yml
	install -D -m 0644 clients/python/joule_client.py $(DESTDIR)$(PYTHONDIR)/joule_client.py
	# the page's charting library is embedded in the binary: its licence ships beside it
	install -D -m 0644 web/vendor/uplot/LICENSE $(DESTDIR)$(DATADIR)/joule/web/uPlot.LICENSE
	$(Q)for m in $(MAN_PAGES); do \
		s=$${m##*.}; install -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/$$(basename $$m) || exit 1; \
	done
	$(Q)for c in $(BASH_COMPS); do install -D -m 0644 $$c $(DESTDIR)$(BASHCOMP_DIR)/joule || exit 1; done
	$(Q)for c in $(ZSH_COMPS); do install -D -m 0644 $$c $(DESTDIR)$(ZSHCOMP_DIR)/_joule || exit 1; done
	$(Q)if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then \
		if ! getent group joule >/dev/null && command -v systemd-sysusers >/dev/null; then \
			systemd-sysusers $(SYSUSERS_DIR)/joule.conf; \
		fi; \
		if getent group joule >/dev/null; then \
			chgrp joule $(SYSCONFDIR)/joule/joule.conf; \
		else \
			echo "  no group joule: create it (systemd-sysusers joule.conf), then chgrp joule $(SYSCONFDIR)/joule/joule.conf"; \
		fi; \
	fi

# Removes what install put there except the config and the ledger (the user's data) and the user.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/joule $(DESTDIR)$(SYSTEMD_UNIT_DIR)/joule.service \
		$(DESTDIR)$(SYSUSERS_DIR)/joule.conf $(DESTDIR)$(BASHCOMP_DIR)/joule $(DESTDIR)$(ZSHCOMP_DIR)/_joule \
		$(DESTDIR)$(PYTHONDIR)/joule_client.py
	rm -rf $(DESTDIR)$(DATADIR)/joule
	rm -f $(DESTDIR)$(MANDIR)/man[1-8]/joule.[1-8] $(DESTDIR)$(MANDIR)/man[1-8]/joule-*.[1-8]
	@echo "  kept $(DESTDIR)$(SYSCONFDIR)/joule/joule.conf, /var/lib/joule and the joule user"

# make install, the Debian package round trip (built in a copy, installed, run as the unit
# would, removed, purged) and the image; each test skips with its reason when a tool is missing.
test-package: all
	$(Q)JOULE_BUILD=$$(realpath $(BUILD)) pytest-3 -q -rs -p no:cacheprovider tests/package

# A FROM-scratch OCI image with the binary and the libraries ldd names (tools/image-rootfs).
IMAGE ?= localhost/joule:$(VERSION)
image: all
	$(Q)tools/image-rootfs $(BUILD)/joule $(BUILD)/image/rootfs
	$(Q)podman build --pull=never -f Containerfile -t $(IMAGE) $(BUILD)/image

# Regenerate the vendored vmlinux.h from the running kernel's BTF.
vmlinux:
	@mkdir -p $(dir $(VMLINUX_H))
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX_H)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

FORCE:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
