# microshop — one non-recursive Makefile.
#
#   make            build every service, worker and tool into bin/
#   make test       install what is missing, then unit + end-to-end tests, plain and
#                   under ASan+UBSan (build/san)
#   make up / down  start / stop the whole system locally (var/)
#   make migrate    apply migrations/<service>/NNN_*.sql to the running databases
#   make bench      wrk benchmarks (docs/PERFORMANCE.md)
#   make clean
#
# Two build variants share the sources: build/rel (-O2, bin/) and build/san
# (-O1, AddressSanitizer + UndefinedBehaviorSanitizer, MS_ARENA_DEBUG).

SHELL := /bin/bash
CC ?= gcc
PKGS := fcgi libpq hiredis libcjson libjwt libcrypt openssl
# The services, in start order: the first word of each line of services.list.
SERVICES := $(shell sed -e 's/\#.*//' services.list | awk 'NF { print $$1 }')

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla -Wmissing-prototypes \
        -Wstrict-prototypes -Wwrite-strings
BASE_CFLAGS = -std=c17 -D_GNU_SOURCE -I. $(WARN) -MMD -MP $(PKG_CFLAGS) $(CHECK_CFLAGS)
REL_CFLAGS := -O2 -g
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_CFLAGS := -O1 -g $(SAN_FLAGS) -DMS_ARENA_DEBUG

LIB_SRC := $(wildcard lib/*.c)
# microshopctl also runs the user service's account changes (set-role, set-status).
TOOL_SRC := $(wildcard tools/*.c) fcgi-apps/user/account.c
UNIT_SRC := $(wildcard tests/unit/*.c)

# Per service: main.c only in <svc>-fcgi, worker*.c only in <svc>-worker, the
# rest in both (and in the unit-test runner).
svc_src = $(wildcard fcgi-apps/$(1)/*.c)
svc_common = $(filter-out fcgi-apps/$(1)/main.c fcgi-apps/$(1)/worker%.c,$(call svc_src,$(1)))
svc_worker = $(filter fcgi-apps/$(1)/worker%.c,$(call svc_src,$(1)))
SVC_COMMON_SRC := $(foreach s,$(SERVICES),$(call svc_common,$(s)))

objs = $(patsubst %.c,build/$(1)/%.o,$(2))

REL_BINS := $(foreach s,$(SERVICES),bin/$(s)-fcgi bin/$(s)-worker) bin/microshopctl
SAN_BINS := $(foreach s,$(SERVICES),build/san/bin/$(s)-fcgi build/san/bin/$(s)-worker) \
            build/san/bin/microshopctl

.PHONY: all san deps test unit e2e up down migrate bench clean status
all: $(REL_BINS) build/rel/bin/unit-tests build/rel/bin/bench-relay
san: $(SAN_BINS) build/san/bin/unit-tests

# `make V=1` shows the full commands.
Q := $(if $(V),,@)

build/rel/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(BASE_CFLAGS) $(REL_CFLAGS) -c $< -o $@

build/san/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC san  $<")
	$(Q)$(CC) $(BASE_CFLAGS) $(SAN_CFLAGS) -c $< -o $@

# bin/ holds the release build; build/san/bin the sanitizer build.
define variant_rules
$(2)/$(3)-fcgi: $(call objs,$(1),fcgi-apps/$(3)/main.c $(call svc_common,$(3)) $(LIB_SRC))
	@mkdir -p $$(dir $$@)
	@$$(if $$(V),,echo "  LD      $$@")
	$$(Q)$$(CC) $(4) -o $$@ $$^ $$(PKG_LIBS)
$(2)/$(3)-worker: $(call objs,$(1),$(call svc_worker,$(3)) $(call svc_common,$(3)) $(LIB_SRC))
	@mkdir -p $$(dir $$@)
	@$$(if $$(V),,echo "  LD      $$@")
	$$(Q)$$(CC) $(4) -o $$@ $$^ $$(PKG_LIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call variant_rules,rel,bin,$(s),)))
$(foreach s,$(SERVICES),$(eval $(call variant_rules,san,build/san/bin,$(s),$(SAN_FLAGS))))

bin/microshopctl: $(call objs,rel,$(TOOL_SRC) $(LIB_SRC))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS)
build/san/bin/microshopctl: $(call objs,san,$(TOOL_SRC) $(LIB_SRC))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS)

# make bench's relay latency probe (bench/relay_latency.c)
build/rel/bin/bench-relay: build/rel/bench/relay_latency.o
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS)

build/rel/bin/unit-tests: $(call objs,rel,$(UNIT_SRC) $(SVC_COMMON_SRC) $(LIB_SRC))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS)
build/san/bin/unit-tests: $(call objs,san,$(UNIT_SRC) $(SVC_COMMON_SRC) $(LIB_SRC))
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS)

# Install the Debian packages the build, the tests and `make up` need (root only;
# a no-op when everything is there).
deps:
	@tools/install-deps.sh

test: deps
	@$(MAKE) --no-print-directory all san
	@tests/run.sh

unit: all san
	@tests/run.sh unit

e2e: all san
	@tests/run.sh e2e

up: deps
	@$(MAKE) --no-print-directory all
	@tools/up.sh

down:
	@tools/down.sh

status:
	@tools/up.sh --status || true

migrate: all
	@tools/migrate-all.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@bench/run.sh

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
