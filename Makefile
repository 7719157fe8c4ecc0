# minnow — the one, non-recursive Makefile.
#
# Each directory adds its sources in its own rules.mk; this file holds the
# toolchains, the three build "worlds" and the user's verbs:
#   make            build the kernel image and the boot modules
#   make run        boot under QEMU          (CORES=4 MEM=1G GIC=3 ARGS="...")
#   make test       host unit tests + boot scenarios, ends "N passed, N failed"
#   make bench      in-OS benchmarks under -icount, writes build/bench.json
#   make debug      QEMU waits for gdb; see tools/gdbinit
#
# Objects of the three worlds never mix:
#   build/kernel/...  freestanding AArch64, for the CPU driver
#   build/user/...    AArch64 user space, linked with picolibc
#   build/host/...    the host compiler with ASan+UBSan, for unit tests

BUILD   := build
CROSS   ?= aarch64-linux-gnu-
CORES   ?= 4
MEM     ?= 1G
GIC     ?= 3
ARGS    ?=
TIMEOUT ?= 60

KCC     := $(CROSS)gcc
UCC     := $(CROSS)gcc
OBJCOPY := $(CROSS)objcopy
NM      := $(CROSS)nm
HOSTCC  ?= cc
PYTHON  ?= python3
QEMU    ?= qemu-system-aarch64

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
COMMON  := -std=c11 -O2 -g $(WARN) -Iinclude -Ilib -MMD -MP
# `make SLAB_DEBUG=1` fills freed slab objects with junk and checks it on
# allocation (lib/base/slab.c) in the kernel and user space too; the host
# tests always do. Like any flag change, it needs `make clean`.
COMMON  += $(if $(SLAB_DEBUG),-DSLAB_DEBUG=1)

# Deferred (=): on a fresh machine the cross compiler only exists once
# tools/setup-deps has run, which happens after this file is read.
KCC_INCLUDE = $(shell $(KCC) -print-file-name=include)
KCFLAGS = $(COMMON) -ffreestanding -fno-builtin -nostdinc -isystem $(KCC_INCLUDE) \
           -mgeneral-regs-only -mcmodel=small -fno-pie -fno-pic -fno-stack-protector \
           -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -fno-strict-aliasing \
           -mstrict-align -D__KERNEL__ -DMINNOW_VERSION='"$(VERSION)"' -Ikernel -Ikernel/arch/aarch64
# Function sections let --gc-sections drop unused code (lib/os/rules.mk).
# Not -fdata-sections: it gives every global its own section, so a
# function reaches each one with its own address computation (no section
# anchors), which cost thread_switch, thread_create_join and malloc_free_64
# 6-17 instructions each and saved no memory (docs/PERFORMANCE.md).
UCFLAGS := $(COMMON) --specs=picolibc.specs -fno-pie -fno-pic -no-pie -ffunction-sections -fno-stack-protector -fno-omit-frame-pointer -Ilib/os
HCFLAGS := $(COMMON) -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -DHOST_TEST

# Make the build wait for the toolchain: tools/setup-deps installs what is
# missing (and does nothing when all is there) before anything compiles.
DEPS_OK := $(BUILD)/.deps-ok
$(DEPS_OK): tools/setup-deps
	@tools/setup-deps
	@mkdir -p $(@D) && touch $@

# `make V=1` shows the commands.
Q := $(if $(V),,@)

$(BUILD)/kernel/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  KCC     $<")
	$(Q)$(KCC) $(KCFLAGS) -c $< -o $@
$(BUILD)/kernel/%.o: %.S | $(DEPS_OK)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  KAS     $<")
	$(Q)$(KCC) $(KCFLAGS) -D__ASSEMBLY__ -c $< -o $@
$(BUILD)/user/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  UCC     $<")
	$(Q)$(UCC) $(UCFLAGS) -c $< -o $@
$(BUILD)/user/%.o: %.S | $(DEPS_OK)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  UAS     $<")
	$(Q)$(UCC) $(UCFLAGS) -D__ASSEMBLY__ -c $< -o $@
$(BUILD)/host/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  HOSTCC  $<")
	$(Q)$(HOSTCC) $(HCFLAGS) -c $< -o $@

# Helpers for the rules.mk files.
kobjs = $(patsubst %,$(BUILD)/kernel/%.o,$(basename $(1)))
uobjs = $(patsubst %,$(BUILD)/user/%.o,$(basename $(1)))
hobjs = $(patsubst %,$(BUILD)/host/%.o,$(basename $(1)))

.DEFAULT_GOAL := all

include lib/base/rules.mk
include lib/mm/rules.mk
include kernel/rules.mk
include lib/os/rules.mk
include usr/rules.mk
include tests/host/rules.mk
include tools/rules.mk

.PHONY: all clean
all: $(KERNEL_IMAGE) $(INITRD)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
