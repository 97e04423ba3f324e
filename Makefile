# signet — plain GNU Makefile.
#
#   make              build/signet-pkcs11.so, build/signet-cardsim (and tools)
#   make check        unit tests (Check) and integration tests (real pcscd, vpcd, SoftHSM)
#   make check SAN=address,undefined   the same, sanitized, in build/san/
#   make demo         the main job on the SoftHSM fallback token
#   make deps         install the Debian packages everything needs (as root)
#   make install      PREFIX, DESTDIR, LIBDIR, SYSCONFDIR, BINDIR, MANDIR

PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
# p11-kit reads packaged modules from /usr/share/p11-kit/modules and the administrator's from /etc/pkcs11/modules.
P11KIT_MODULE_DIR ?= $(if $(filter /usr,$(PREFIX)),/usr/share/p11-kit/modules,/etc/pkcs11/modules)

CC      ?= cc
PKGS    := libpcsclite p11-kit-1 openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs libpcsclite openssl 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

BUILD := build
ifneq ($(SAN),)
BUILD := build/san
SAN_FLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden \
	-DSIGNET_SYSCONFDIR='"$(SYSCONFDIR)"' -I. $(PKG_CFLAGS) $(SAN_FLAGS)
LIBS    := $(PKG_LIBS) -ldl -lpthread

# The rooms are enforced by the link: the core archive holds apdu/ and crypto/ only, and
# the tool, the card simulator and the test helpers link it and nothing of pkcs11/.
# The module archive (core + pkcs11/) is for the unit tests of pkcs11/ internals.
CORE_SRC := $(sort $(wildcard apdu/*.c crypto/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
MOD_SRC := $(sort $(wildcard pkcs11/*.c)) $(CORE_SRC)
MOD_OBJ := $(MOD_SRC:%.c=$(BUILD)/obj/%.o)
SIM_SRC := $(sort $(wildcard tests/cardsim/*.c))
SIM_OBJ := $(SIM_SRC:%.c=$(BUILD)/obj/%.o)
TOOL_SRC := $(sort $(wildcard tools/*.c))
TOOL_OBJ := $(TOOL_SRC:%.c=$(BUILD)/obj/%.o)
CHECK_SRC := $(sort $(wildcard tests/check_*.c))
CHECK_BIN := $(CHECK_SRC:tests/%.c=$(BUILD)/tests/%)
# Unit tests of the core rooms link the core archive, so they show it stands alone.
CORE_CHECK_BIN := $(filter $(addprefix $(BUILD)/tests/check_,apdu buf piv tlv uri crypto_%),$(CHECK_BIN))
HELPER_SRC := $(sort $(wildcard tests/helpers/*.c))
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/%)
SHIM_SRC := $(sort $(wildcard tests/shims/*.c))
SHIM_LIB := $(SHIM_SRC:tests/shims/%.c=$(BUILD)/tests/lib%.so)

MODULE  := $(BUILD)/signet-pkcs11.so
CORE_ARCHIVE := $(BUILD)/libsignet-core.a
MODULE_ARCHIVE := $(BUILD)/libsignet-module.a
CARDSIM := $(if $(SIM_SRC),$(BUILD)/signet-cardsim)
TOOL    := $(if $(TOOL_SRC),$(BUILD)/signet-tool)

.PHONY: all check check-unit check-integration check-slow demo bench install deps clean
.DELETE_ON_ERROR:

all: $(MODULE) $(CARDSIM) $(TOOL) $(HELPER_BIN) $(SHIM_LIB)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# The configuration path is compiled in: rebuild config.o when SYSCONFDIR changes.
SYSCONF_STAMP := $(BUILD)/.sysconfdir$(subst /,_,$(SYSCONFDIR))
$(SYSCONF_STAMP):
	@mkdir -p $(dir $@)
	@rm -f $(BUILD)/.sysconfdir_*
	@touch $@
$(BUILD)/obj/pkcs11/config.o: $(SYSCONF_STAMP)

$(MODULE): $(MOD_OBJ) conf/signet.map
	@mkdir -p $(dir $@)
	$(CC) -shared $(SAN_FLAGS) -Wl,--version-script=conf/signet.map -Wl,-z,defs \
		-Wl,-z,nodelete -o $@ $(MOD_OBJ) $(LIBS)

$(CORE_ARCHIVE): $(CORE_OBJ)
$(MODULE_ARCHIVE): $(MOD_OBJ)
$(CORE_ARCHIVE) $(MODULE_ARCHIVE):
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

ifneq ($(SIM_SRC),)
$(CARDSIM): $(SIM_OBJ) $(CORE_ARCHIVE)
	$(CC) $(SAN_FLAGS) -o $@ $(SIM_OBJ) $(CORE_ARCHIVE) $(LIBS)
endif

ifneq ($(TOOL_SRC),)
# The tool finds the installed module when it does not run from the build tree.
$(TOOL_OBJ): ALL_CFLAGS += -DSIGNET_LIBDIR='"$(LIBDIR)"'
$(TOOL): $(TOOL_OBJ) $(CORE_ARCHIVE)
	$(CC) $(SAN_FLAGS) -o $@ $(TOOL_OBJ) $(CORE_ARCHIVE) $(LIBS)
endif

# Each test binary links the archive its TEST_ARCHIVE names.
$(filter-out $(CORE_CHECK_BIN),$(CHECK_BIN)): TEST_ARCHIVE := $(MODULE_ARCHIVE)
$(CORE_CHECK_BIN): TEST_ARCHIVE := $(CORE_ARCHIVE)
$(filter-out $(CORE_CHECK_BIN),$(CHECK_BIN)): $(MODULE_ARCHIVE)
$(CORE_CHECK_BIN): $(CORE_ARCHIVE)
# The core's suite runs on the in-memory mock token.
$(BUILD)/tests/check_core: TEST_EXTRA := $(BUILD)/obj/tests/mock_token.o
$(BUILD)/tests/check_core: $(BUILD)/obj/tests/mock_token.o
$(BUILD)/tests/check_%: tests/check_%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -MMD -MP -o $@ $< $(TEST_EXTRA) $(TEST_ARCHIVE) $(CHECK_LIBS) $(LIBS)

$(BUILD)/tests/%: tests/helpers/%.c $(CORE_ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -o $@ $< $(CORE_ARCHIVE) $(LIBS)

# Test-only PKCS#11 libraries (e.g. SoftHSM with a C_Login counter).
$(BUILD)/tests/lib%.so: tests/shims/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -shared -MMD -MP -o $@ $< -ldl

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Unit tests print Check's summary lines; integration tests print "N passed, N failed".
check: all $(CHECK_BIN)
	@SIGNET_BUILD=$(BUILD) SAN='$(SAN)' tests/run-tests $(CHECK_BIN)

check-unit: all $(CHECK_BIN)
	@SIGNET_BUILD=$(BUILD) SAN='$(SAN)' tests/run-tests --unit-only $(CHECK_BIN)

check-slow: all $(CHECK_BIN)
	@SIGNET_BUILD=$(BUILD) SAN='$(SAN)' SIGNET_SLOW=1 tests/run-tests $(CHECK_BIN)

demo: all
	@SIGNET_BUILD=$(BUILD) tools/demo.sh

bench: all
	@SIGNET_BUILD=$(BUILD) tests/bench/run

install: all
	install -d $(DESTDIR)$(LIBDIR)/pkcs11 $(DESTDIR)$(P11KIT_MODULE_DIR) $(DESTDIR)$(SYSCONFDIR)/signet
	install -m 0755 $(MODULE) $(DESTDIR)$(LIBDIR)/pkcs11/signet-pkcs11.so
	sed 's|@MODULE@|$(LIBDIR)/pkcs11/signet-pkcs11.so|' conf/signet.module \
		> $(DESTDIR)$(P11KIT_MODULE_DIR)/signet.module
	install -m 0644 conf/signet.conf $(DESTDIR)$(SYSCONFDIR)/signet/signet.conf
	$(if $(TOOL),install -D -m 0755 $(TOOL) $(DESTDIR)$(BINDIR)/signet-tool)
	$(if $(TOOL),install -D -m 0644 tools/signet-tool.1 $(DESTDIR)$(MANDIR)/man1/signet-tool.1)

# Everything the build, the tests and the demo use, from Debian 12's archive.
DEB_PACKAGES := gcc make pkg-config libc6-dev libssl-dev openssl libpcsclite-dev libp11-kit-dev \
	check pcscd vsmartcard-vpcd softhsm2 opensc opensc-pkcs11 yubico-piv-tool util-linux \
	procps libnss3-tools p11-kit p11-kit-modules gnutls-bin libengine-pkcs11-openssl \
	python3 python3-pykcs11 ykcs11 iproute2 xxd binutils mount

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then echo "deps: all packages present"; exit 0; fi; \
	echo "deps: installing" $$missing; \
	if [ "$$(id -u)" != 0 ]; then echo "deps: run as root (apt-get install needs it)" >&2; exit 1; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q && apt-get install -y -q --no-install-recommends $$missing

clean:
	rm -rf build
