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
LDLIBS    := -lbpf -lelf -lz -lcjson -lmicrohttpd -lsodium -linih -lm -lpthread
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
TOOLS      := $(BUILD)/fake-rapl

# 'make' needs only the build packages; 'make test' adds the test-only ones.
DEPS_STAMP      := $(BUILD)/.deps-build-ok
TEST_DEPS_STAMP := $(BUILD)/.deps-test-ok

.PHONY: all deps deps-test test check check-layers bench fuzz run install clean vmlinux tools

all: $(BUILD)/joule $(TOOLS)

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

# Only the tracer includes the skeleton; nothing else waits for (or rebuilds with) the BPF object.
$(BUILD)/obj/kernel/tracer.o $(BUILD)/fuzz/obj/kernel/tracer.o: $(SKEL)

$(LIBJOULE): $(USER_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/joule: $(BUILD)/obj/cmd/main.o $(LIBJOULE)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/fake-rapl: tools/fake-rapl/fake-rapl.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< -lm -o $@

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

test: deps-test all check-layers $(UNIT_TESTS) $(BPF_TESTS) $(FUZZ_BINS)
	$(Q)BUILD=$(BUILD) tests/run-tests

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

# The README's first command: joule's main job on a short demo workload.
run: all
	$(BUILD)/joule run -- stress-ng --cpu 1 --timeout 3s --quiet

SYSTEMD_UNIT_DIR ?= /lib/systemd/system
SYSUSERS_DIR     ?= /usr/lib/sysusers.d

# The binary, the systemd unit and sysusers entry, the config (never overwritten), Prometheus files.
install: all
	install -D -m 0755 $(BUILD)/joule $(DESTDIR)$(PREFIX)/bin/joule
	install -D -m 0644 dist/systemd/joule.service $(DESTDIR)$(SYSTEMD_UNIT_DIR)/joule.service
	install -D -m 0644 dist/sysusers.d/joule.conf $(DESTDIR)$(SYSUSERS_DIR)/joule.conf
	@if [ -e $(DESTDIR)/etc/joule/joule.conf ]; then \
		echo "  keeping $(DESTDIR)/etc/joule/joule.conf"; \
	else \
		install -D -m 0640 dist/joule.conf $(DESTDIR)/etc/joule/joule.conf; \
	fi
	install -D -m 0644 dist/prometheus/joule.rules.yml $(DESTDIR)$(PREFIX)/share/joule/prometheus/joule.rules.yml
	install -D -m 0644 dist/prometheus/prometheus.yml $(DESTDIR)$(PREFIX)/share/joule/prometheus/prometheus.yml

# Regenerate the vendored vmlinux.h from the running kernel's BTF.
vmlinux:
	@mkdir -p $(dir $(VMLINUX_H))
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX_H)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
