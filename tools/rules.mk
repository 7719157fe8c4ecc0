# tools — the user's verbs: run, test, bench, debug.
QEMU_ARGS := -M virt,gic-version=$(GIC) -cpu cortex-a72 -smp $(CORES) -m $(MEM) \
             -display none -monitor none -serial stdio -no-reboot \
             -kernel $(KERNEL_IMAGE) -initrd $(INITRD)

.PHONY: run debug test bench host-test boot-test

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
