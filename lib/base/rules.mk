# lib/base — pure building blocks shared by the kernel, user space and the
# host tests. Each world compiles these sources with its own flags.
BASE_SRCS := lib/base/err.c lib/base/slab.c lib/base/cmdline.c lib/base/fdt.c lib/base/cpio.c lib/base/elf.c lib/base/mdb.c
