# tests/host — Criterion unit tests of the pure code, built for the host with
# ASan and UBSan. One binary holds every suite.
HOST_TEST_SRCS := $(wildcard tests/host/test_*.c) tests/host/fdt_builder.c tests/host/mm_fake.c
HOST_TEST_BIN  := $(BUILD)/host/unit-tests
# The pure parts of the user runtime.
HOST_LIBOS_SRCS := lib/os/slot_alloc.c lib/os/vregion.c lib/os/pt_model.c lib/os/heap.c lib/os/rpc_wire.c

$(HOST_TEST_BIN): $(call hobjs,$(HOST_TEST_SRCS) $(BASE_SRCS) $(HOST_LIBOS_SRCS) $(MM_SRCS))
	@echo "  HOSTLD  $@"
	$(Q)$(HOSTCC) $(HCFLAGS) $^ -lcriterion -o $@

.PHONY: host-test
host-test: $(HOST_TEST_BIN)
	$(HOST_TEST_BIN)

# The memory manager's host micro-benchmark (tests/host/mm_bench.c, docs/mm.md):
# built like user space (-O2, no sanitizers); `make mm-host-bench` counts its
# instructions per alloc+free pair with callgrind (or times it without
# valgrind) and runs the fragmentation workload.
MM_BENCH_BIN  := $(BUILD)/hostbench/mm-bench
MM_BENCH_SRCS := tests/host/mm_bench.c $(MM_SRCS) lib/base/slab.c lib/base/err.c

$(BUILD)/hostbench/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  BENCHCC $<")
	$(Q)$(HOSTCC) $(COMMON) -c $< -o $@

$(MM_BENCH_BIN): $(patsubst %,$(BUILD)/hostbench/%.o,$(basename $(MM_BENCH_SRCS)))
	@echo "  HOSTLD  $@"
	$(Q)$(HOSTCC) $^ -o $@

.PHONY: mm-host-bench
mm-host-bench: $(MM_BENCH_BIN)
	$(PYTHON) tools/mm_host_bench.py $(MM_BENCH_BIN)
