# tests/host — Criterion unit tests of the pure code, built for the host with
# ASan and UBSan. One binary holds every suite.
HOST_TEST_SRCS := $(wildcard tests/host/test_*.c) tests/host/fdt_builder.c
HOST_TEST_BIN  := $(BUILD)/host/unit-tests
# The pure parts of the user runtime.
HOST_LIBOS_SRCS := lib/os/slot_alloc.c

$(HOST_TEST_BIN): $(call hobjs,$(HOST_TEST_SRCS) $(BASE_SRCS) $(HOST_LIBOS_SRCS))
	@echo "  HOSTLD  $@"
	$(Q)$(HOSTCC) $(HCFLAGS) $^ -lcriterion -o $@

.PHONY: host-test
host-test: $(HOST_TEST_BIN)
	$(HOST_TEST_BIN)
