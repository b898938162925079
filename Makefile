# SPDX-License-Identifier: BSD-2-Clause
# steer: `make` builds everything into build/; `make test` runs every test
# level; `make check` runs the linters; `make vmlinux` refreshes vmlinux.h.
# V=1 shows the full commands.

BUILD    ?= build
CLANG    ?= clang
CC       ?= cc
BPFTOOL  ?= bpftool
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

CFLAGS   ?= -O2 -g
NL_CFLAGS := $(shell pkg-config --cflags libnl-route-3.0 2>/dev/null || echo -I/usr/include/libnl3)
NL_LIBS   := $(shell pkg-config --libs libnl-route-3.0 2>/dev/null || echo -lnl-route-3 -lnl-3)
CFLAGS   += -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE \
            -Iinclude -Iagent/lib -I$(BUILD)
# agent/lib (libsteer.a) is what steerd and steerctl share; agent/ holds the
# daemon-only code (libsteerd.a), the one user of libmicrohttpd and libnl.
LDLIBS   += -lbpf -lelf -lz -lyaml -ljson-c
# steerctl is linked statically, libc included, as a static PIE (ASLR
# kept): a pipeline calls it many times a rollout, and the dynamic loader's
# relocations and page faults were most of a `steerctl set` (3.9 ms of CPU
# for --help against 1.7 ms with its libraries static; with libc static too,
# set at 100k routes went from 5.45 to 4.85 ms median, tools/bench/ctl_set.sh).
# It calls no NSS function, which a static glibc could not load.
# CTL_STATIC=0 links it dynamically.
CTL_STATIC ?= 1
ifeq ($(CTL_STATIC),1)
CTL_LDLIBS := -static-pie $(LDLIBS)
else
CTL_LDLIBS := $(LDLIBS)
endif
DAEMON_CFLAGS := -Iagent $(NL_CFLAGS)
DAEMON_LDLIBS := $(LDLIBS) -lmicrohttpd $(NL_LIBS) -lcares
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
.PHONY: FORCE bench bench-quick bench-smoke bench-tc bench-deps install all test unit-test bpf-test e2e-test sanitize fuzz fuzz-smoke check \
	format vmlinux clean vmtest test-run check-run vmtest-run abi-check abi-test abi-manifest upgrade-test \
	deploy-check image image-smoke image-run image-smoke-run

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
LIB_SRCS  := $(wildcard agent/lib/*.c)
LIB_OBJS  := $(patsubst agent/lib/%.c,$(BUILD)/agent/lib/%.o,$(LIB_SRCS))
DAEMON_SRCS := $(filter-out agent/steerd.c,$(wildcard agent/*.c))
DAEMON_OBJS := $(patsubst agent/%.c,$(BUILD)/agent/%.o,$(DAEMON_SRCS))
LIBS      := $(BUILD)/libsteerd.a $(BUILD)/libsteer.a
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
BPFT_SRCS := $(wildcard tests/bpf/test_*.c)
BPFT_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/%,$(BPFT_SRCS))
# Test-only BPF programs (never attached): build/progs/*.bpf.o + .skel.h
TPROG_SRCS  := $(wildcard tests/bpf/progs/*.bpf.c)
TPROG_OBJS  := $(patsubst tests/bpf/progs/%.bpf.c,$(BUILD)/progs/%.bpf.o,$(TPROG_SRCS))
TPROG_SKELS := $(patsubst tests/bpf/progs/%.bpf.c,$(BUILD)/progs/%.skel.h,$(TPROG_SRCS))
TOOLS     := $(BUILD)/steerd $(BUILD)/steerctl $(BUILD)/bench/bench_connect \
             $(BUILD)/abi_manifest
# make bench: the load tool, the BPF helper and the empty baseline programs
BENCH_BINS := $(BUILD)/bench/bench_conn $(BUILD)/bench/bench_bpf
BENCH_PROG_SRCS := $(wildcard tools/bench/progs/*.bpf.c)
BENCH_PROGS := $(patsubst tools/bench/progs/%.bpf.c,$(BUILD)/bench/%.bpf.o,$(BENCH_PROG_SRCS))
HEADERS   := $(wildcard include/*.h agent/*.h agent/lib/*.h)

all: $(BPF_OBJS) $(SKELS) $(TOOLS) $(UNIT_BINS) $(BPFT_BINS) $(BENCH_BINS) \
	$(BENCH_PROGS)

$(BUILD) $(BUILD)/agent $(BUILD)/agent/lib $(BUILD)/tests $(BUILD)/progs $(BUILD)/bench:
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

$(BUILD)/agent/lib/%.o: agent/lib/%.c $(HEADERS) | $(BUILD)/agent/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/agent/%.o: agent/%.c $(HEADERS) $(SKELS) | $(BUILD)/agent
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(DAEMON_CFLAGS) -c $< -o $@

$(BUILD)/libsteer.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(BUILD)/libsteerd.a: $(DAEMON_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

# The build's name, rewritten only when it changes: steerd and steerctl are
# relinked when it does, so both always name the same build.
$(BUILD)/version: FORCE | $(BUILD)
	$(Q)echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@
FORCE:

$(BUILD)/steerd: agent/steerd.c $(LIBS) $(HEADERS) $(SKELS) $(BUILD)/version
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(DAEMON_CFLAGS) -DSTEER_VERSION='"$(VERSION)"' $< \
		$(LIBS) $(DAEMON_LDLIBS) -o $@

# steerctl sees agent/lib only: no daemon header, no libmicrohttpd or libnl.
CTL_SRCS := $(wildcard tools/ctl/*.c)
BENCH_SRCS := $(wildcard tools/bench/*.c)
$(BUILD)/steerctl: $(CTL_SRCS) $(wildcard tools/ctl/*.h) $(BUILD)/libsteer.a $(HEADERS) \
		$(BUILD)/health_restore.skel.h $(BUILD)/version
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) -DSTEER_VERSION='"$(VERSION)"' -Itools/ctl $(CTL_SRCS) \
		$(BUILD)/libsteer.a $(CTL_LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/unit/test.h $(BUILD)/libsteer.a | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit $< $(BUILD)/libsteer.a $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/bpf/%.c tests/unit/test.h $(wildcard tests/bpf/*.h) $(LIBS) $(SKELS) $(TPROG_SKELS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $(DAEMON_CFLAGS) -Itests/unit -Itests/bpf $< $(LIBS) $(DAEMON_LDLIBS) -o $@

$(BUILD)/bench/bench_connect: tools/bench/bench_connect.c tools/bench/bench_util.c tools/bench/bench_util.h | $(BUILD)/bench
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $< tools/bench/bench_util.c -lbpf -o $@

$(BUILD)/abi_manifest: tools/abi/abi_manifest.c include/steer_abi.h | $(BUILD)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $< -lbpf -lelf -lz -o $@

$(BUILD)/bench/bench_conn: tools/bench/bench_conn.c tools/bench/bench_util.c tools/bench/bench_util.h | $(BUILD)/bench
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) -pthread $< tools/bench/bench_util.c -lbpf -o $@

$(BUILD)/bench/bench_bpf: tools/bench/bench_bpf.c | $(BUILD)/bench
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $< -lbpf -lelf -lz -o $@

$(BUILD)/bench/%.bpf.o: tools/bench/progs/%.bpf.c | $(BUILD)/bench
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# ---- benchmarks against the alternatives (tools/bench/README.md) ---------
# Needs root; builds namespaces, a cgroup and pins of its own and removes
# them on every exit path. Report and plots: build/bench/.
# BENCH_ARGS passes options to tools/bench/bench.py (e.g. --scales 1,1000).
BENCH_ARGS ?=
bench-deps:
	$(Q)tools/bench/install-deps.sh

bench: bench-deps all
	$(Q)/usr/bin/python3 tools/bench/bench.py --out $(BUILD)/bench $(BENCH_ARGS)

bench-quick: bench-deps all
	$(Q)/usr/bin/python3 tools/bench/bench.py --quick --out $(BUILD)/bench $(BENCH_ARGS)

# CI's smoke run: the quick benchmark, then a check that every system really
# ran and steered (no speed assertions: a shared machine cannot hold them);
# and the TC program's per-packet cost, so that it keeps working.
bench-smoke: bench-quick bench-tc
	$(Q)/usr/bin/python3 tools/bench/smoke.py $(BUILD)/bench/results.json

# The TC program's cost per packet by path (BPF_PROG_TEST_RUN, minus an
# empty program): the BENCH case of tests/bpf/test_tc.c, which make test
# never runs. STEER_TC_BENCH_RUNS=N single runs per path (default 20000).
bench-tc: $(BUILD)/tests/test_tc $(BUILD)/tc.bpf.o
	$(Q)$(BUILD)/tests/test_tc -t benchmark

# ---- sanitizers and fuzzing (clang: ASan, UBSan, libFuzzer) ------------
# The agent sources are compiled again with the sanitizer flags into their
# own tree, never mixed with the normal objects of libsteer.a.
SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
SAN_CFLAGS := $(CFLAGS) $(SAN_FLAGS)
ASAN_OBJS  := $(patsubst agent/lib/%.c,$(BUILD)/asan/agent/lib/%.o,$(LIB_SRCS))
ASAN_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/asan/tests/%,$(UNIT_SRCS))

$(BUILD)/asan/agent/lib/%.o: agent/lib/%.c $(HEADERS)
	$(call msg,CC-ASAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(SAN_CFLAGS) -c $< -o $@

$(BUILD)/asan/tests/%: tests/unit/%.c tests/unit/test.h $(ASAN_OBJS)
	$(call msg,LD-ASAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(SAN_CFLAGS) -Itests/unit $< $(ASAN_OBJS) $(LDLIBS) -o $@

# New memory filled with 0xbe throughout, not only its first 4 KiB: the
# parser zeroes a route field by field, and a field it forgets must show.
sanitize: $(ASAN_BINS)
	$(Q)ASAN_OPTIONS=max_malloc_fill_size=268435456 \
		tests/run-unit.sh asan $(ASAN_BINS)

# The fuzz target needs only the parser and the compiler.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_CFLAGS := $(filter-out -O2,$(CFLAGS)) -O1 $(SAN_FLAGS) -fsanitize=fuzzer
FUZZ_AGENT  := addr compile compile_source route_cfg routes routes_parallel routes_doc routes_check routes_dns routes_policy routes_text routes_memo ryaml log
FUZZ_OBJS   := $(patsubst %,$(BUILD)/fuzz/agent/lib/%.o,$(FUZZ_AGENT))
# Seeds are read in place; new inputs go to build/fuzz/corpus. Files in
# tests/fuzz/regressions/ once crashed or hung the target: every run
# replays them.
FUZZ_SEEDS  := examples tests/unit/bad tests/fuzz/regressions
FUZZ_ARGS   ?=

$(BUILD)/fuzz/agent/lib/%.o: agent/lib/%.c $(HEADERS)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS) $(HEADERS)
	$(call msg,LD-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< $(FUZZ_OBJS) -lyaml -ljson-c -lbpf -lelf -lz -o $@

# libFuzzer exits non-zero on a crash, leak, UBSan report or timeout and
# leaves the input as build/fuzz/crash-* (leak-*, timeout-*).
fuzz: $(BUILD)/fuzz/fuzz_routes
	$(call msg,FUZZ,$< $(FUZZ_SECONDS)s)
	$(Q)mkdir -p $(BUILD)/fuzz/corpus
	$(Q)$< -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
		-dict=tests/fuzz/routes.dict -artifact_prefix=$(BUILD)/fuzz/ \
		$(FUZZ_ARGS) $(BUILD)/fuzz/corpus $(FUZZ_SEEDS) \
		> $(BUILD)/fuzz/fuzz.log 2>&1 || \
		{ tail -n 60 $(BUILD)/fuzz/fuzz.log; exit 1; }
	$(Q)grep -E '^(#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs)' \
		$(BUILD)/fuzz/fuzz.log | sed 's/^/  /' || true

fuzz-smoke:
	$(Q)$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

# test, check, vmtest, image and image-smoke install the Debian packages
# they need first (tools/install-deps.sh: only what is missing), then run in
# a second make: under -j nothing of the build may start before the
# packages are there.
DEPS_test   := test
DEPS_check  := check
DEPS_vmtest := vm
DEPS_image  := image
DEPS_image-smoke := image
test check vmtest image image-smoke:
	$(Q)tools/install-deps.sh $(DEPS_$@)
	$(Q)$(MAKE) --no-print-directory $@-run

# Every level prints "N passed, N failed"; any failure fails the target.
# sanitize and a short fuzz run are cheap enough for every CI run; the e2e
# tests run last so that pytest's summary closes the output.
test-run: sanitize fuzz-smoke unit-test abi-test bpf-test e2e-test

unit-test: $(UNIT_BINS)
	$(Q)tests/run-unit.sh unit $(UNIT_BINS)

bpf-test: $(BPFT_BINS) $(BPF_OBJS) $(TPROG_OBJS)
	$(Q)tests/run-unit.sh bpf $(BPFT_BINS)

e2e-test: all
	$(Q)/usr/bin/python3 -m pytest -q tests/e2e

# ---- upgrades and the map ABI (docs/upgrade.md) ------------------------
# abi-check: the built objects' pinned maps equal include/steer_abi.manifest,
# and no release in tests/upgrade/releases has a map of another layout under
# a name the build still uses. abi-test: the check fails when it must.
ABI_CHECK := tools/abi/abi-check.sh -t $(BUILD)/abi_manifest \
	-m include/steer_abi.manifest -r tests/upgrade/releases \
	-d tests/upgrade/manifests -b $(BUILD)/upgrade

abi-check: $(BUILD)/abi_manifest $(BPF_OBJS)
	$(call msg,ABI,check)
	$(Q)$(ABI_CHECK) $(BPF_OBJS)

abi-test: $(BUILD)/abi_manifest $(BPF_OBJS)
	$(Q)tests/abi/test_abi_check.sh $(BUILD)

# Rewrite the manifest from the objects, keeping the sizing column.
# A map without a rule gets "-" and the target fails: write its rule in.
abi-manifest: $(BUILD)/abi_manifest $(BPF_OBJS)
	$(Q)$(BUILD)/abi_manifest --sizing include/steer_abi.manifest \
		$(BPF_OBJS) > $(BUILD)/steer_abi.manifest; st=$$?; \
	grep -q '^steer_' $(BUILD)/steer_abi.manifest && \
	mv $(BUILD)/steer_abi.manifest include/steer_abi.manifest; exit $$st

# upgrade-test (root): every release in tests/upgrade/releases is built from
# git into build/upgrade/<commit>/ (cached), then its steerd is upgraded to
# build/steerd under load in a sandbox (tests/upgrade/test_upgrade.py).
UPGRADE_RELEASES := $(shell sed 's/\#.*//' tests/upgrade/releases 2>/dev/null)

upgrade-test: $(BUILD)/steerd $(BUILD)/steerctl
	$(Q)for c in $(UPGRADE_RELEASES); do \
		tests/upgrade/build-release.sh $$c $(BUILD)/upgrade || exit 1; \
	done
	$(Q)/usr/bin/python3 -m pytest -q tests/upgrade

CHECK_SRCS := $(wildcard agent/*.[ch] agent/lib/*.[ch] tools/ctl/*.[ch] tools/abi/*.c tools/bench/*.[ch] tools/bench/progs/*.c include/*.h bpf/*.[ch] bpf/lib/*.h tests/unit/*.[ch] tests/bpf/*.[ch] tests/bpf/progs/*.c \
	tests/fuzz/*.c tests/vm/*.[ch])
check-run: all deploy-check
	$(call msg,FORMAT,check)
	$(Q)clang-format --dry-run -Werror $(CHECK_SRCS)
	$(call msg,CPPCHECK,agent tools tests/fuzz)
	$(Q)cppcheck -q --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -Iinclude -Iagent -Iagent/lib \
		-itools/bench/progs agent tools tests/fuzz
	$(call msg,ANALYZE,agent tools tests/fuzz tests/vm)
	$(Q)for f in $(LIB_SRCS) $(filter-out agent/loader.c agent/tc.c agent/udp_destroy.c,$(DAEMON_SRCS)) agent/steerd.c $(filter-out tools/ctl/ctl_health.c,$(CTL_SRCS)) $(BENCH_SRCS) $(wildcard tools/abi/*.c tests/fuzz/*.c tests/vm/*.c); do \
		$(CLANG) --analyze -Xanalyzer -analyzer-output=text $(filter-out -Werror,$(CFLAGS)) $(DAEMON_CFLAGS) -Itools/ctl -Itests/unit \
			-Werror -o /dev/null $$f || exit 1; done
	@# bpftool's generated skeletons (in loader.c, tc.c, udp_destroy.c, ctl_health.c) trip unix.Malloc.
	$(Q)for f in agent/loader.c agent/tc.c agent/udp_destroy.c tools/ctl/ctl_health.c; do \
		$(CLANG) --analyze -Xanalyzer -analyzer-output=text -Xanalyzer \
		-analyzer-disable-checker=unix.Malloc $(filter-out -Werror,$(CFLAGS)) $(DAEMON_CFLAGS) -Itools/ctl \
		-Werror -o /dev/null $$f || exit 1; done
	$(Q)$(MAKE) --no-print-directory abi-check

# ---- deploy/: Prometheus rules, dashboard, Argo/Flagger templates, manifests --
# promtool checks the rules and runs their unit tests; the manifests and the
# dashboard are checked structurally (no cluster, no network). Their PromQL is
# evaluated against a real steerd by tests/e2e/test_prometheus.py.
PROMTOOL ?= promtool
deploy-check:
	$(call msg,PROMTOOL,deploy/prometheus)
	$(Q)$(PROMTOOL) check rules deploy/prometheus/steer-rules.yaml >/dev/null
	$(Q)cd deploy/prometheus && $(PROMTOOL) test rules tests/steer-rules.test.yaml
	$(call msg,DEPLOY,deploy/*.yaml deploy/grafana)
	$(Q)/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e/test_deploy_files.py

# ---- make image: an OCI image from Debian packages (tools/image/) ----------
# build/image/oci (OCI layout, tag $(VERSION)) and build/image/steerd-$(VERSION).tar;
# as root, with mmdebstrap, umoci and the Debian mirror. image-smoke unpacks it
# and runs steerd --once and steerctl from inside it against a test cgroup.
IMAGE_TAG ?= $(VERSION)
image-run: $(BUILD)/steerd $(BUILD)/steerctl
	$(Q)tools/image/build.sh $(BUILD) $(IMAGE_TAG)

image-smoke-run: image-run
	$(Q)tools/image/smoke.sh $(BUILD) $(IMAGE_TAG)

# ---- vmtest: the programs on Debian 12's 6.1 LTS kernel under qemu -----
# Static binaries for a guest that has only busybox; steerd goes in as
# built, with its shared libraries (tests/vm/run.sh).
VM_LIBS  := -static -lbpf -lelf -lz -lyaml -ljson-c -lnl-route-3 -lnl-3 -lpthread -lm
VM_TESTS := $(patsubst tests/bpf/%.c,$(BUILD)/vm/tests/%,$(BPFT_SRCS))

$(BUILD)/vm/vmtest: $(wildcard tests/vm/*.[ch]) tests/unit/test.h $(LIBS) $(HEADERS)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(DAEMON_CFLAGS) -Itests/unit $(wildcard tests/vm/*.c) $(LIBS) \
		$(VM_LIBS) -o $@

$(BUILD)/vm/tests/%: tests/bpf/%.c tests/unit/test.h $(wildcard tests/bpf/*.h) $(LIBS) $(SKELS) $(TPROG_SKELS)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(DAEMON_CFLAGS) -Itests/unit -Itests/bpf $< $(LIBS) $(VM_LIBS) -o $@

vmtest-run: $(BUILD)/vm/vmtest $(VM_TESTS) $(BPF_OBJS) $(BUILD)/steerd
	$(Q)tests/vm/run.sh $(BUILD)

format:
	$(Q)clang-format -i $(CHECK_SRCS)

# Regenerate the committed vmlinux.h from the running kernel's BTF.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

# Install the two programs and the systemd unit (DESTDIR for packaging).
PREFIX  ?= /usr/local
install: $(BUILD)/steerd $(BUILD)/steerctl
	install -D -m 0755 $(BUILD)/steerd $(DESTDIR)$(PREFIX)/sbin/steerd
	install -D -m 0755 $(BUILD)/steerctl $(DESTDIR)$(PREFIX)/bin/steerctl
	install -D -m 0644 deploy/steerd.service \
		$(DESTDIR)/lib/systemd/system/steerd.service
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/steer/README.md
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/doc/steer/docs docs/*.md
	install -d -m 0755 $(DESTDIR)/etc/steer/routes

clean:
	$(Q)rm -rf $(BUILD)
