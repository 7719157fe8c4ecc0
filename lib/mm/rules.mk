# lib/mm — the physical memory manager, pure: linked into every user
# program (lib/os/rules.mk) and into the host tests (tests/host/rules.mk).
# firstfit.c is the baseline that the benchmarks measure it against.
MM_SRCS := lib/mm/blocktree.c lib/mm/mm.c lib/mm/mm_check.c lib/mm/firstfit.c
