# tools — the user's verbs: run, test, bench, debug.
QEMU_ARGS := -M virt,gic-version=$(GIC) -cpu cortex-a72 -smp $(CORES) -m $(MEM) \
             -display none -monitor none -serial stdio -no-reboot \
             -kernel $(KERNEL_IMAGE) -initrd $(INITRD)

.PHONY: run debug test bench host-test boot-test fuzz-elf

run: all
	$(QEMU) $(QEMU_ARGS) -append "$(ARGS)"

# QEMU waits for gdb on port 1234: in another terminal, `gdb-multiarch -x tools/gdbinit`.
debug: all
	@echo "QEMU is waiting for gdb: run 'gdb-multiarch -x tools/gdbinit' in another terminal"
	$(QEMU) $(QEMU_ARGS) -append "$(ARGS)" -S -s

BOOT_TESTS := $(sort $(wildcard tests/boot/*.test))

test: all $(HOST_TEST_BIN)
	$(PYTHON) tools/run_tests.py --unit $(HOST_TEST_BIN) --kernel $(KERNEL_IMAGE) \
	    --initrd $(INITRD) --logs $(BUILD)/test-logs $(BOOT_TESTS)

boot-test: all
	$(PYTHON) tools/run_tests.py --kernel $(KERNEL_IMAGE) --initrd $(INITRD) \
	    --logs $(BUILD)/test-logs $(BOOT_TESTS)

bench: all
	$(PYTHON) tools/bench.py --kernel $(KERNEL_IMAGE) --initrd $(INITRD) \
	    --append "init=bench" --json $(BUILD)/bench.json

# make fuzz-elf [FUZZ_SECONDS=n]: libFuzzer (clang, with ASan and UBSan) over
# the ELF parser for a fixed time, seeded with the boot programs; prints the
# executions and crashes, and fails if there was one (the input is kept in
# build/fuzz/elf/). Not part of `make test`; needs `tools/setup-deps fuzz`.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_ELF_BIN := $(BUILD)/fuzz/fuzz-elf

$(FUZZ_ELF_BIN): tests/fuzz/fuzz_elf.c lib/base/elf.c lib/base/elf.h lib/base/err.c
	@mkdir -p $(@D)
	@echo "  FUZZCC  $@"
	$(Q)$(FUZZ_CC) -std=c11 -g -O1 -Wall -Wextra -Werror -Iinclude -Ilib -DHOST_TEST \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    tests/fuzz/fuzz_elf.c lib/base/elf.c lib/base/err.c -o $@

fuzz-elf: all
	tools/setup-deps fuzz
	$(MAKE) $(FUZZ_ELF_BIN)
	tools/fuzz-run fuzz-elf $(FUZZ_ELF_BIN) $(FUZZ_SECONDS) $(BUILD)/fuzz/elf $(USER_PROGRAMS)
