# Parley - top-level, non-recursive build.
#
#   make            build every daemon and tool into build/bin (-O2 -g -Werror)
#   make SAN=1      the same with ASan+UBSan into build/asan/bin
#   make run        install missing packages, build, start the local stack
#   make test       unit tests (ASan/UBSan) + integration tests, one summary line
#   make bench      the benchmark suite (tools/loadgen)
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
TOOLS = devkafka loadgen floor msgbench searchbench

srcs = $(filter-out %_test.c $(1)/main.c,$(wildcard $(1)/*.c))
objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_OBJS := $(call objs,$(call srcs,lib))
PROTO_GEN_C := $(BUILD)/gen/parley.pb-c.c
PROTO_OBJS := $(call objs,$(call srcs,proto)) $(BUILD)/obj/gen/parley.pb-c.o

BINS = $(addprefix $(BUILD)/bin/,$(DAEMONS) $(TOOLS))
UNIT_TESTS = $(patsubst %.c,$(BUILD)/test/%,$(wildcard lib/*_test.c proto/*_test.c \
	$(foreach d,$(DAEMONS) tools/devkafka tools/loadgen tools/floor,$(d)/*_test.c)))

.PHONY: all deps run test unit-build bench clean
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

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
