# SPDX-License-Identifier: BSD-2-Clause
# steer: `make` builds everything into build/; `make test` runs every test
# level; `make check` runs the linters; `make vmlinux` refreshes vmlinux.h.
# V=1 shows the full commands.

BUILD    ?= build
CLANG    ?= clang
CC       ?= cc
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

CFLAGS   ?= -O2 -g
CFLAGS   += -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE \
            -Iinclude -Iagent -I$(BUILD)
LDLIBS   += -lbpf -lelf -lz -lyaml -ljson-c -lmicrohttpd
BPF_CFLAGS := -g -O2 -target bpf -D__BPF__ -D__TARGET_ARCH_$(ARCH) \
              -Wall -Wextra -Werror -Wno-unused-parameter \
              -Iinclude -Ivmlinux -Ibpf

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all test unit-test bpf-test e2e-test check format vmlinux clean

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
LIB_SRCS  := $(filter-out agent/steerd.c,$(wildcard agent/*.c))
LIB_OBJS  := $(patsubst agent/%.c,$(BUILD)/agent/%.o,$(LIB_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
BPFT_SRCS := $(wildcard tests/bpf/test_*.c)
BPFT_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/%,$(BPFT_SRCS))
# Test-only BPF programs (never attached): build/progs/*.bpf.o + .skel.h
TPROG_SRCS  := $(wildcard tests/bpf/progs/*.bpf.c)
TPROG_OBJS  := $(patsubst tests/bpf/progs/%.bpf.c,$(BUILD)/progs/%.bpf.o,$(TPROG_SRCS))
TPROG_SKELS := $(patsubst tests/bpf/progs/%.bpf.c,$(BUILD)/progs/%.skel.h,$(TPROG_SRCS))
TOOLS     := $(BUILD)/steerd $(BUILD)/steerctl $(BUILD)/bench_connect
HEADERS   := $(wildcard include/*.h agent/*.h)

all: $(BPF_OBJS) $(SKELS) $(TOOLS) $(UNIT_BINS) $(BPFT_BINS)

$(BUILD) $(BUILD)/agent $(BUILD)/tests $(BUILD)/progs:
	$(Q)mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h bpf/lib/*.h) include/steer_abi.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name steer_$* > $@

$(BUILD)/progs/%.bpf.o: tests/bpf/progs/%.bpf.c $(wildcard bpf/*.h bpf/lib/*.h tests/bpf/*.h) include/steer_abi.h | $(BUILD)/progs
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -Itests/bpf -c $< -o $@

$(BUILD)/progs/%.skel.h: $(BUILD)/progs/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name steer_$* > $@

$(BUILD)/agent/%.o: agent/%.c $(HEADERS) $(SKELS) | $(BUILD)/agent
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libsteer.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(BUILD)/steerd: agent/steerd.c $(BUILD)/libsteer.a $(HEADERS) $(SKELS)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $< $(BUILD)/libsteer.a $(LDLIBS) -o $@

CTL_SRCS := tools/steerctl.c $(wildcard tools/ctl_*.c)
BENCH_SRCS := tools/bench_connect.c
$(BUILD)/steerctl: $(CTL_SRCS) $(wildcard tools/*.h) $(BUILD)/libsteer.a $(HEADERS)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) -Itools $(CTL_SRCS) $(BUILD)/libsteer.a $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/unit/test.h $(BUILD)/libsteer.a | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit $< $(BUILD)/libsteer.a $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/bpf/%.c tests/unit/test.h $(wildcard tests/bpf/*.h) $(BUILD)/libsteer.a $(SKELS) $(TPROG_SKELS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit -Itests/bpf $< $(BUILD)/libsteer.a $(LDLIBS) -o $@

$(BUILD)/bench_connect: tools/bench_connect.c | $(BUILD)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

# Every level prints "N passed, N failed"; any failure fails the target.
test: unit-test bpf-test e2e-test

unit-test: $(UNIT_BINS)
	$(Q)tests/run-unit.sh unit $(UNIT_BINS)

bpf-test: $(BPFT_BINS) $(BPF_OBJS) $(TPROG_OBJS)
	$(Q)tests/run-unit.sh bpf $(BPFT_BINS)

e2e-test: all
	$(Q)/usr/bin/python3 -m pytest -q tests/e2e

CHECK_SRCS := $(wildcard agent/*.[ch] tools/*.[ch] include/*.h bpf/*.[ch] bpf/lib/*.h tests/unit/*.[ch] tests/bpf/*.[ch] tests/bpf/progs/*.c)
check: all
	$(call msg,FORMAT,check)
	$(Q)clang-format --dry-run -Werror $(CHECK_SRCS)
	$(call msg,CPPCHECK,agent tools)
	$(Q)cppcheck -q --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -Iinclude -Iagent \
		agent tools
	$(call msg,ANALYZE,agent tools)
	$(Q)for f in $(filter-out agent/loader.c,$(LIB_SRCS)) agent/steerd.c $(CTL_SRCS) $(BENCH_SRCS); do \
		$(CLANG) --analyze -Xanalyzer -analyzer-output=text $(filter-out -Werror,$(CFLAGS)) -Itools \
			-Werror -o /dev/null $$f || exit 1; done
	@# bpftool's generated skeleton (included by loader.c) trips unix.Malloc.
	$(Q)$(CLANG) --analyze -Xanalyzer -analyzer-output=text -Xanalyzer \
		-analyzer-disable-checker=unix.Malloc $(filter-out -Werror,$(CFLAGS)) \
		-Werror -o /dev/null agent/loader.c

format:
	$(Q)clang-format -i $(CHECK_SRCS)

# Regenerate the committed vmlinux.h from the running kernel's BTF.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

clean:
	$(Q)rm -rf $(BUILD)
