# usr — the boot modules: init, the test programs and the benchmarks.
# Each program is one $(call user_program,...) line; all of them go into the
# initrd, named without the .elf suffix, with a README that doubles as a boot
# module that is not a program (for tests). tools/mkinitrd.py writes a newc
# cpio archive whose file data starts on page boundaries (one Frame each).
$(eval $(call user_program,init,usr/init/init.c usr/init/procmgr.c usr/init/services.c usr/init/termsrv.c usr/init/pl011.c usr/init/memsrv.c usr/init/procsrv.c))
$(eval $(call user_program,faulter,usr/tests/faulter.c))
$(eval $(call user_program,regcheck,usr/tests/regcheck.c usr/tests/regcheck_asm.S))
$(eval $(call user_program,captest,usr/tests/captest.c usr/tests/ostest.c))
$(eval $(call user_program,slottest,usr/tests/slottest.c))
$(eval $(call user_program,mmtest,usr/tests/mmtest.c usr/tests/ostest.c))
$(eval $(call user_program,pftest,usr/tests/pftest.c))
$(eval $(call user_program,pagetest,usr/tests/pagetest.c usr/tests/ostest.c))
$(eval $(call user_program,threadtest,usr/tests/threadtest.c usr/tests/ostest.c))
$(eval $(call user_program,rpctest,usr/tests/rpctest.c usr/tests/ostest.c))
$(eval $(call user_program,svctest,usr/tests/svctest.c usr/tests/ostest.c))
$(eval $(call user_program,termtest,usr/tests/termtest.c))
$(eval $(call user_program,lmptest,usr/tests/lmptest.c usr/tests/ostest.c))
$(eval $(call user_program,hello,usr/hello/hello.c))
$(eval $(call user_program,spinner,usr/tests/spinner.c))
$(eval $(call user_program,proctest,usr/tests/proctest.c usr/tests/ostest.c usr/init/procmgr.c))
$(eval $(call user_program,bench,usr/bench/bench.c usr/init/procmgr.c usr/init/services.c usr/init/termsrv.c usr/init/pl011.c usr/init/memsrv.c usr/init/procsrv.c))

INITRD := $(BUILD)/initrd.cpio

# Malformed copies of hello for the spawn tests' bad inputs (tools/mkbadelf.py).
BAD_ELFS := $(addprefix $(BUILD)/user/bad/,bad-truncated bad-machine bad-overlap bad-huge bad-entry)

$(BAD_ELFS) &: $(BUILD)/user/hello.elf tools/mkbadelf.py
	@mkdir -p $(BUILD)/user/bad
	$(Q)$(PYTHON) tools/mkbadelf.py $< $(BUILD)/user/bad

$(INITRD): $(USER_PROGRAMS) $(BAD_ELFS) usr/README.initrd usr/defaults.args tools/mkinitrd.py
	@echo "  INITRD  $@"
	$(Q)$(PYTHON) tools/mkinitrd.py $@ README=usr/README.initrd defaults.args=usr/defaults.args \
	    $(foreach p,$(USER_PROGRAMS),$(notdir $(basename $(p)))=$(p)) \
	    $(foreach p,$(BAD_ELFS),$(notdir $(p))=$(p))
