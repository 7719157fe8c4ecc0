# lib/os — the user runtime, linked into every program, with lib/base and lib/mm.
LIBOS_SRCS := lib/os/crt0.S lib/os/start.c lib/os/stdio.c lib/os/exception.c lib/os/thread.c lib/os/thread_sync.c lib/os/thread_stack.c lib/os/thread_asm.S lib/os/malloc.c lib/os/memory.c lib/os/lmp.c
# The pure allocators, also linked into the host tests (tests/host/rules.mk).
LIBOS_SRCS += lib/os/slot_alloc.c lib/os/slots.c lib/os/initcaps.c lib/os/ram.c lib/os/pt_model.c lib/os/vregion.c lib/os/paging.c lib/os/frame_pool.c lib/os/record_pool.c lib/os/heap.c lib/os/spawn.c
LIBOS_SRCS += lib/os/waitset.c lib/os/rpc_wire.c lib/os/rpc.c lib/os/rpc_send.c lib/os/rpc_bulk.c lib/os/rpc_loopback.c lib/os/rpc_lmp.c lib/os/svc.c
LIBOS_OBJS := $(call uobjs,$(LIBOS_SRCS) $(BASE_SRCS) $(MM_SRCS))
USER_LDS   := lib/os/user.ld
USER_LD    := $(UCC) $(UCFLAGS) -nostartfiles -static -T $(USER_LDS) -Wl,--build-id=none -Wl,--gc-sections -Wl,-z,max-page-size=4096 -Wl,--no-warn-rwx-segments

# $(call user_program,name,sources): build/user/<name>.elf, added to the boot modules.
define user_program
$(BUILD)/user/$(1).elf: $(call uobjs,$(2)) $(LIBOS_OBJS) $(USER_LDS)
	@echo "  ULD     $$@"
	$(Q)$$(USER_LD) $(call uobjs,$(2)) $(LIBOS_OBJS) -o $$@
USER_PROGRAMS += $(BUILD)/user/$(1).elf
endef

# The message path keeps FP/SIMD registers untouched: the kernel switches
# them lazily (docs/lmp.md), so one SIMD struct copy on the path of every
# call would make each switch save and load them. (Only code that uses no
# floating point can be built this way.)
RPC_PATH_OBJS := $(call uobjs,lib/os/rpc.c lib/os/rpc_send.c lib/os/rpc_lmp.c lib/os/rpc_wire.c lib/os/waitset.c lib/os/lmp.c lib/os/svc.c lib/os/thread.c lib/os/thread_sync.c)
$(RPC_PATH_OBJS): UCFLAGS += -mgeneral-regs-only
