# OpenROMA build. `make run` and `make test` are the two commands a user needs (README.md).
#   make            build release binaries into build/release/
#   make asan       build the ASan+UBSan variant into build/asan/
#   make fuzz       build libFuzzer targets (clang) into build/fuzz/
#   make run        install missing packages, build, start the whole stack (scripts/run.sh)
#   make test       install missing packages, build all variants, run the whole suite (tests/)
#   make bench      run the benchmarks (bench/run.sh)
#   make chaos      5-minute chaos run of the stack under run.sh (tests/test_chaos.py, ROMA_CHAOS_SECONDS)
# Every source directory is globbed: a new .c file in common/, proto/ or services/<name>/ needs no edit here.

MODE ?= release
BUILD := build/$(MODE)
CC := gcc

PKGS := libzmq msgpack libpq libcjson libcrypto libarchive
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcivetweb -lpthread -lm
DS_PKGS := libmariadb hiredis libcurl libmongoc-1.0 rdkafka librabbitmq
DS_CFLAGS := $(shell pkg-config --cflags $(DS_PKGS) 2>/dev/null)
DS_LIBS := $(shell pkg-config --libs $(DS_PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wno-missing-field-initializers
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -g $(WARN) -I. -Icommon -Iproto $(PKG_CFLAGS)
ifeq ($(MODE),asan)
CFLAGS_MODE := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS_MODE := -fsanitize=address,undefined
else
CFLAGS_MODE := -O2
LDFLAGS_MODE :=
endif
CFLAGS := $(CFLAGS_COMMON) $(CFLAGS_MODE)

COMMON_SRC := $(sort $(wildcard common/*.c) $(wildcard proto/*.c))
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
LIBCOMMON := $(BUILD)/libroma.a

SERVICES := api broker asset_worker datasource_worker topic_worker admin
BIN_api := roma-api
BIN_broker := roma-broker
BIN_asset_worker := roma-asset-worker
BIN_datasource_worker := roma-datasource-worker
BIN_topic_worker := roma-topic-worker
BIN_admin := roma-admin
BINS := $(foreach s,$(SERVICES),$(BUILD)/bin/$(BIN_$(s)))

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# Test helper programs tests/helpers/*.c (real processes driven by the pytest suites), linked like unit tests;
# a "// LINK_EXTRA: path.c ..." line in a helper also links those service sources' objects.
HELPER_SRC := $(sort $(wildcard tests/helpers/*.c))
HELPER_BINS := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)
HELPER_EXTRA_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(shell sed -n 's#^// LINK_EXTRA:##p' $(HELPER_SRC) /dev/null)))

.PHONY: all release asan fuzz run test bench chaos clean deps check-compose compose-test base-images
all: $(BINS) $(UNIT_BINS) $(HELPER_BINS)
release: ; $(MAKE) MODE=release all
asan: ; $(MAKE) MODE=asan all

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(if $(findstring datasource_worker,$<),$(DS_CFLAGS)) -MMD -MP -c $< -o $@

$(LIBCOMMON): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# A service may also link another service's contract modules (SHARED_<name>): the asset worker decides app
# roles and validates imported apps with the API's own app modules, so each rule lives in one place.
SHARED_asset_worker := services/api/app_store.c services/api/app_validate.c

define service_rule
$(1)_SRC := $$(sort $$(wildcard services/$(1)/*.c))
$(1)_OBJ := $$($(1)_SRC:%.c=$$(BUILD)/obj/%.o) $$(SHARED_$(1):%.c=$$(BUILD)/obj/%.o)
$$(BUILD)/bin/$$(BIN_$(1)): $$($(1)_OBJ) $$(LIBCOMMON)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_MODE) -o $$@ $$($(1)_OBJ) $$(LIBCOMMON) $$(PKG_LIBS) $(2)
endef
$(foreach s,$(filter-out datasource_worker,$(SERVICES)),$(eval $(call service_rule,$(s),)))
$(eval $(call service_rule,datasource_worker,$$(DS_LIBS)))

$(BUILD)/tests/%: tests/unit/%.c $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS_MODE) -o $@ $< $(LIBCOMMON) $(PKG_LIBS)

$(BUILD)/tests/helpers/%: tests/helpers/%.c $(LIBCOMMON) $(HELPER_EXTRA_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iservices/api $(LDFLAGS_MODE) -MMD -MP -o $@ $< $(patsubst %.c,$(BUILD)/obj/%.o,$(shell sed -n 's#^// LINK_EXTRA:##p' $<)) $(LIBCOMMON) $(PKG_LIBS)

# libFuzzer targets: tests/fuzz/fuzz_*.c linked with the common/proto sources (and, when a target names
# them in a "// FUZZ_EXTRA: path.c ..." line, extra service sources), built with clang.
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
fuzz: $(FUZZ_BINS)
build/fuzz/%: tests/fuzz/%.c $(COMMON_SRC) $(wildcard services/api/*.c services/api/*.h)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -Wno-missing-field-initializers -I. -Icommon -Iproto -Iservices/api $(PKG_CFLAGS) \
	  -fsanitize=fuzzer,address,undefined -o $@ $< $(COMMON_SRC) $(shell sed -n 's#^// FUZZ_EXTRA:##p' $<) $(PKG_LIBS)

deps:
	@scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory MODE=release all
	@scripts/run.sh

test: deps
	@$(MAKE) --no-print-directory MODE=release all
	@$(MAKE) --no-print-directory MODE=asan all
	@$(MAKE) --no-print-directory fuzz
	@scripts/test.sh

# the chaos test of the suite (about a minute there), run for ROMA_CHAOS_SECONDS (default 300 here)
# against the release build; its summary line starts with "chaos:"
chaos: deps
	@$(MAKE) --no-print-directory MODE=release all
	@secs=$${ROMA_CHAOS_SECONDS:-300}; ROMA_CHAOS_SECONDS=$$secs ROMA_BUILD_DIR=$${ROMA_BUILD_DIR:-build/release} \
	  $${PYTHON:-/usr/bin/python3} -m pytest -q -s -p no:cacheprovider --timeout=$$((secs + 300)) tests/test_chaos.py

bench: deps
	@$(MAKE) --no-print-directory MODE=release all
	@bench/run.sh

# bench/hello.c: the civetweb hello-world baseline of bench/bench_http.py (bench/run.sh builds it)
$(BUILD)/bench/hello: bench/hello.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS_MODE) -o $@ $< -lcivetweb -lpthread

# bench/ds_baseline.c: raw connect+auth+close loop of libmariadb / libpq, the baseline of bench/bench_datasources.py
$(BUILD)/bench/ds_baseline: bench/ds_baseline.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DS_CFLAGS) $(LDFLAGS_MODE) -o $@ $< $(DS_LIBS) $(PKG_LIBS)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# docker-compose: the Debian base images (no registry needed; cached by package-list hash) and the live tests
base-images: ; deploy/build-base.sh
compose-test: ; deploy/compose-test.sh
