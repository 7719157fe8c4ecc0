# usr — the boot modules: init, the test programs and the benchmarks.
# Each program is one $(call user_program,...) line; all of them go into the
# initrd (a newc cpio archive), named without the .elf suffix, with a README
# that doubles as a boot module that is not a program (for tests).
$(eval $(call user_program,init,usr/init/init.c))
$(eval $(call user_program,faulter,usr/tests/faulter.c))
$(eval $(call user_program,regcheck,usr/tests/regcheck.c usr/tests/regcheck_asm.S))
$(eval $(call user_program,captest,usr/tests/captest.c))
$(eval $(call user_program,slottest,usr/tests/slottest.c))
$(eval $(call user_program,bench,usr/bench/bench.c))

INITRD := $(BUILD)/initrd.cpio

$(INITRD): $(USER_PROGRAMS) usr/README.initrd
	@rm -rf $(BUILD)/initrd && mkdir -p $(BUILD)/initrd
	@for f in $(USER_PROGRAMS); do cp $$f $(BUILD)/initrd/$$(basename $$f .elf); done
	@cp usr/README.initrd $(BUILD)/initrd/README
	@echo "  CPIO    $@"
	$(Q)cd $(BUILD)/initrd && ls | LC_ALL=C sort | cpio --quiet --reproducible -o -H newc > ../initrd.cpio
