/* SPDX-License-Identifier: MIT */
/*
 * sized.c - size-tagged structs the library fills in the
 * caller's memory: the tag's check and the copy out.
 */
#include <string.h>

#include "vmm_internal.h"

int vmmi_size_check(size_t size, size_t min, const char *what, const char *type)
{
	if (size >= min)
		return 0;
	return vmmi_error(-EINVAL,
			  "%s: size %zu is too small (at least %zu): set it to sizeof(struct %s), "
			  "as its VMM_*_INIT macro does",
			  what, size, min, type);
}

void vmmi_size_copy_out(void *out, size_t size, const void *ours, size_t len)
{
	const size_t tag = sizeof(size_t);
	size_t n = size < len ? size : len;

	/* The tag stays the caller's; fields past its size are not its to lose. */
	memcpy((char *)out + tag, (const char *)ours + tag, n - tag);
	if (size > len)
		memset((char *)out + len, 0, size - len);
}
