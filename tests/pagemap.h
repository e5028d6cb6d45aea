/* SPDX-License-Identifier: MIT */
/*
 * pagemap.h - for tests: can this process read host-
 * physical frame numbers from /proc/self/pagemap?
 */
#ifndef TESTS_PAGEMAP_H
#define TESTS_PAGEMAP_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

/*
 * Asked of the kernel about a page of our own: root with CAP_SYS_ADMIN (this
 * machine, CI) sees PFNs; anyone else reads PFN 0 since Linux 4.0. A child
 * with the same credentials (vmm-run in the e2e tests) sees the same.
 */
static inline bool test_pfns_visible(void)
{
	static volatile uint8_t page[4096] __attribute__((aligned(4096)));
	uint64_t entry = 0;
	ssize_t n;
	int fd;

	if (getuid() != 0)
		return false;
	page[0] = 1;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = pread(fd, &entry, sizeof(entry), (off_t)((uintptr_t)page / 4096 * sizeof(entry)));
	close(fd);
	return n == (ssize_t)sizeof(entry) && (entry >> 63) && (entry & ((1ull << 55) - 1));
}

#endif
