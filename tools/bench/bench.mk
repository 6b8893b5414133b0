# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Builds the bench helpers into $(BUILD)/bench (invoked by tools/bench/run-bench; needs libjoule.a built).

BUILD   ?= build
CC      ?= cc
CLANG   ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
B       := $(BUILD)/bench
ARCH    := $(if $(filter aarch64,$(shell uname -m)),arm64,x86)
CFLAGS  := -O2 -g -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE -Iinclude -I$(BUILD)
# what libjoule.a needs (the Makefile's LDLIBS)
LDLIBS  := -lbpf -lelf -lz -lcjson -lmicrohttpd -lgnutls -lyaml -lcrypt -lsodium -linih -lcurl -lm -lpthread

all: $(B)/floor.bpf.o $(B)/floor-loader $(B)/proc-poller $(B)/spawner $(B)/short-burst $(B)/tick-stats \
	$(B)/residual.bpf.o $(B)/residual $(B)/ledger-disk

$(B)/floor.bpf.o: tools/bench/floor.bpf.c
	@mkdir -p $(@D)
	$(CLANG) -g -O2 -target bpf -Wall -Werror -I/usr/include/$(shell $(CC) -dumpmachine) -c $< -o $(@:.o=.tmp.o)
	$(BPFTOOL) gen object $@ $(@:.o=.tmp.o)

# The experiment behind docs/PERFORMANCE.md's residual: CO-RE, so it needs the vendored vmlinux.h.
$(B)/residual.bpf.o: tools/bench/residual.bpf.c
	@mkdir -p $(@D)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Ivmlinux/$(ARCH) -c $< -o $(@:.o=.tmp.o)
	$(BPFTOOL) gen object $@ $(@:.o=.tmp.o)

$(B)/residual: tools/bench/residual.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -lbpf -lelf -lz -o $@

$(B)/floor-loader: tools/bench/floor-loader.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -lbpf -lelf -lz -o $@

$(B)/proc-poller $(B)/spawner $(B)/short-burst: $(B)/%: tools/bench/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@

$(B)/tick-stats $(B)/ledger-disk: $(B)/%: tools/bench/%.c $(BUILD)/libjoule.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(BUILD)/libjoule.a $(LDLIBS) -o $@

.PHONY: all
