# kernel — the CPU driver. Linked twice: the first link gives the symbol
# table (tools/ksyms.py) that the second embeds for symbolised backtraces.
KERNEL_SRCS := $(wildcard kernel/*.c) $(wildcard kernel/cap/*.c) $(wildcard kernel/arch/aarch64/*.c) \
               kernel/arch/aarch64/head.S kernel/arch/aarch64/vectors.S $(BASE_SRCS)
KERNEL_OBJS := $(call kobjs,$(KERNEL_SRCS))
KERNEL_LDS  := kernel/arch/aarch64/kernel.ld
KERNEL_LD   := $(KCC) -nostdlib -static -Wl,--build-id=none -Wl,--no-warn-rwx-segments -Wl,-T,$(KERNEL_LDS) -Wl,-z,max-page-size=4096

KERNEL_ELF   := $(BUILD)/kernel/kernel.elf
KERNEL_IMAGE := $(BUILD)/kernel.bin

$(BUILD)/kernel/ksyms-empty.S: tools/ksyms.py | $(DEPS_OK)
	@mkdir -p $(@D)
	$(Q)$(PYTHON) tools/ksyms.py --empty > $@

$(BUILD)/kernel/kernel.stage1.elf: $(KERNEL_OBJS) $(BUILD)/kernel/ksyms-empty.S $(KERNEL_LDS)
	@echo "  KLD     $@"
	$(Q)$(KERNEL_LD) $(KERNEL_OBJS) $(BUILD)/kernel/ksyms-empty.S -o $@ -lgcc

$(BUILD)/kernel/ksyms.S: $(BUILD)/kernel/kernel.stage1.elf tools/ksyms.py
	@echo "  KSYMS   $@"
	$(Q)$(NM) -n --defined-only $< | $(PYTHON) tools/ksyms.py > $@

$(KERNEL_ELF): $(KERNEL_OBJS) $(BUILD)/kernel/ksyms.S $(KERNEL_LDS)
	@echo "  KLD     $@"
	$(Q)$(KERNEL_LD) $(KERNEL_OBJS) $(BUILD)/kernel/ksyms.S -o $@ -lgcc
	@$(NM) -n --defined-only $@ | $(PYTHON) tools/ksyms.py --check $(BUILD)/kernel/ksyms.S

$(KERNEL_IMAGE): $(KERNEL_ELF)
	@echo "  IMAGE   $@"
	$(Q)$(OBJCOPY) -O binary $< $@
