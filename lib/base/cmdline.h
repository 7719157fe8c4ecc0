/*
 * cmdline.h — reading "key=value" words from the kernel command line
 * (the device tree's /chosen/bootargs, i.e. QEMU's -append).
 *
 * Parameters the kernel understands:
 *   init=<module>        the first program (default "init")
 *   also=<m1>,<m2>,...   more boot processes to start beside it (bring-up and
 *                        tests, until init can spawn programs itself)
 *   kernel.selftest=panic   panic on purpose, to test the panic report
 *   kernel.selftest=write-text   write to kernel code (must fault: W^X)
 * Every process receives the whole command line in its argument page.
 * Pure code (lib/base), shared by the kernel and the host tests.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Copy the value of `key` into out (NUL-terminated). False if absent or if
 * the value does not fit. */
bool cmdline_get(const char *cmdline, const char *key, char *out, size_t outlen);

/* Split a comma list: copy the item starting at *pos into out and advance
 * *pos past it. False at the end of the list or if an item does not fit. */
bool cmdline_next_item(const char **pos, char *out, size_t outlen);
