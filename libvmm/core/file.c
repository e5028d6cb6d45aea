/* SPDX-License-Identifier: MIT */
/* file.c - read a whole file the VM is built from (firmware, kernel) into memory. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm_internal.h"

int vmmi_read_file(const char *path, uint64_t max, uint8_t **data, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vmmi_error(-errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return vmmi_error(-ENOEXEC, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return vmmi_error(-EFBIG, "%s: %lld bytes is larger than the %llu MiB limit", path,
				  (long long)st.st_size, (unsigned long long)(max >> 20));
	}
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf) {
		close(fd);
		return vmmi_error(-ENOMEM, "%s: out of memory", path);
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			free(buf);
			close(fd);
			return vmmi_error(-err, "%s: read failed: %s", path, strerror(err));
		}
		done += n;
	}
	close(fd);
	*data = buf;
	*len = done;
	return 0;
}
