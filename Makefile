# Parley - top-level, non-recursive build.
#
#   make            build every daemon and tool into build/bin (-O2 -g -Werror)
#   make SAN=1      the same with ASan+UBSan into build/asan/bin
#   make run        install missing packages, build, start the local stack
#   make test       unit tests (ASan/UBSan) + integration tests, one summary line
#   make bench      the benchmark suite (tools/loadgen)
#   make fuzz-build the libFuzzer targets (tests/fuzz/fuzz_*.c) into build/fuzz/bin
#   make fuzz       run each of them FUZZ_SECONDS (default 90) from tests/fuzz/corpus
#
# Layout: lib/ -> libparley.a, proto/ -> libparleyproto.a (with the protoc-c
# output), one folder per daemon; <dir>/*_test.c are unit tests of that folder.

ifeq ($(SAN),1)
BUILD ?= build/asan
# float-cast-overflow (a double beyond an integer type cast to it) is not part
# of GCC's -fsanitize=undefined
SANFLAGS = -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined,float-cast-overflow
else
BUILD ?= build
SANFLAGS =
endif

CC ?= cc
PKGS = libwebsockets libuv rdkafka hiredis libprotobuf-c libcjson libevent libevent_pthreads libpq libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS = -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE \
	-Ilib -Iproto -I$(BUILD)/gen $(PKG_CFLAGS) $(SANFLAGS) -MMD -MP -Itests/unit
LDLIBS = $(PKG_LIBS) -lnng -lpthread -lm
LDFLAGS = $(SANFLAGS)
# per-program extra libraries: message-svc allocates with jemalloc (glibc's
# malloc consolidated its fastbins on every large request: a quarter of its
# CPU at 40,000 sends/s; docs/decisions.md). Not under the sanitizers,
# which bring their own allocator.
ifneq ($(SAN),1)
message-svc_LIBS = -ljemalloc
endif

# notify-svc's push and mail go through libcurl (multi interface on its loop)
notify-svc_LIBS += -lcurl

DAEMONS = gateway message-svc presence-svc notify-svc search-indexer
TOOLS = devkafka loadgen floor msgbench searchbench resend

srcs = $(filter-out %_test.c $(1)/main.c,$(wildcard $(1)/*.c))
objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_OBJS := $(call objs,$(call srcs,lib))
PROTO_GEN_C := $(BUILD)/gen/parley.pb-c.c
PROTO_OBJS := $(call objs,$(call srcs,proto)) $(BUILD)/obj/gen/parley.pb-c.o

BINS = $(addprefix $(BUILD)/bin/,$(DAEMONS) $(TOOLS))
UNIT_TESTS = $(patsubst %.c,$(BUILD)/test/%,$(wildcard lib/*_test.c proto/*_test.c \
	$(foreach d,$(DAEMONS) tools/devkafka tools/loadgen tools/floor,$(d)/*_test.c)))

.PHONY: all deps run test unit-build bench clean fuzz-build fuzz
.DEFAULT_GOAL := all
.SECONDARY:
all: $(BINS)

$(BUILD)/gen/parley.pb-c.c $(BUILD)/gen/parley.pb-c.h: proto/parley.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen proto/parley.proto

# every object may include the generated header
$(BUILD)/obj/%.o: %.c $(BUILD)/gen/parley.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/gen/parley.pb-c.o: $(PROTO_GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-error -c -o $@ $<

$(BUILD)/libparley.a: $(LIB_OBJS)
	@rm -f $@; ar rcs $@ $^

$(BUILD)/libparleyproto.a: $(PROTO_OBJS)
	@rm -f $@; ar rcs $@ $^

LIBS = $(BUILD)/libparleyproto.a $(BUILD)/libparley.a

# $(1) = folder, $(2) = binary name
define program
$(BUILD)/bin/$(2): $(call objs,$(call srcs,$(1)) $(1)/main.c) $(LIBS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS) $$($(2)_LIBS)
endef
$(foreach d,$(DAEMONS),$(eval $(call program,$(d),$(d))))
$(eval $(call program,tools/devkafka,devkafka))
$(eval $(call program,tools/loadgen,loadgen))
$(eval $(call program,tools/floor,floor))
$(eval $(call program,tools/msgbench,msgbench))
$(eval $(call program,tools/searchbench,searchbench))
$(eval $(call program,tools/resend,resend))

# a unit test links what it tests and nothing else: its own object, its module
# (x_test.c -> x.c, when there is one), the modules its source names on a line
#   /* test-links: page render ../tests/unit/fake_x */
# (names without .c, beside the test unless they hold a /), and the libs. A
# module it uses but does not name is a link error: the dependency shows.
test_links = $(wildcard $(1).c) $(foreach m,$(shell sed -n \
	's|^/\* test-links: \(.*\) \*/$$|\1|p' $(1)_test.c),$(if $(findstring /,$(m)),$(m).c,$(dir $(1))$(m).c))
.SECONDEXPANSION:
$(BUILD)/test/%_test: $(BUILD)/obj/%_test.o $$(call objs,$$(call test_links,$$*)) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $($(firstword $(subst /, ,$*))_LIBS)

unit-build: $(UNIT_TESTS)

deps:
	@bash deploy/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@exec bash deploy/local/run.sh

test: deps
	@bash tests/run.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@bash tools/bench/run.sh

clean:
	rm -rf build

# ---- libFuzzer targets: tests/fuzz/fuzz_<name>.c, built with Debian's clang
# and ASan+UBSan into build/fuzz (objects of their own: the targets link the
# modules they exercise, compiled with coverage). FUZZ_MODS_<name> lists what
# a target links besides lib/ and proto/: folders (every .c but main.c and
# tests) or single .c files. A new target is one file plus one line here.
FUZZ_MODS_rtm_frame = gateway
FUZZ_MODS_api_params = gateway
FUZZ_MODS_token = gateway
FUZZ_MODS_envelope = gateway
FUZZ_MODS_request = message-svc
FUZZ_MODS_reply = gateway
FUZZ_MODS_poll_args = gateway
FUZZ_MODS_devkafka = tools/devkafka
FUZZ_MODS_search_query = search-indexer/query.c

FUZZ_CC ?= clang
FUZZ_DIR = build/fuzz
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=gnu11 -O1 -g -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE \
	-Ilib -Iproto -I$(FUZZ_DIR)/gen $(PKG_CFLAGS) -MMD -MP \
	-fsanitize=fuzzer-no-link $(FUZZ_SAN)
FUZZ_NAMES = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS = $(addprefix $(FUZZ_DIR)/bin/fuzz_,$(FUZZ_NAMES))
fuzz_objs = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(1))
fuzz_mods = $(foreach m,$(FUZZ_MODS_$(1)),$(if $(filter %.c,$(m)),$(m),$(call srcs,$(m))))
FUZZ_LIB_OBJS = $(call fuzz_objs,$(call srcs,lib) $(call srcs,proto)) $(FUZZ_DIR)/obj/gen/parley.pb-c.o

$(FUZZ_DIR)/gen/parley.pb-c.c: proto/parley.proto
	@mkdir -p $(FUZZ_DIR)/gen
	protoc-c --proto_path=proto --c_out=$(FUZZ_DIR)/gen proto/parley.proto
$(FUZZ_DIR)/gen/parley.pb-c.h: $(FUZZ_DIR)/gen/parley.pb-c.c ;

$(FUZZ_DIR)/obj/gen/parley.pb-c.o: $(FUZZ_DIR)/gen/parley.pb-c.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/obj/%.o: %.c $(FUZZ_DIR)/gen/parley.pb-c.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_INC) -c -o $@ $<

# a target includes the private headers of what it links
$(FUZZ_DIR)/obj/tests/fuzz/%.o: FUZZ_INC = $(addprefix -I,$(DAEMONS) tools/devkafka)

$(FUZZ_DIR)/bin/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $$(call fuzz_objs,$$(call fuzz_mods,$$*)) $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@bash tests/fuzz/run.sh $(FUZZ_NAMES)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
