/* SPDX-License-Identifier: MIT */
/*
 * memcg.c - a memory cgroup of its own for one measurement:
 * what a process is charged, kernel memory included.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

static void why_set(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/*
 * This process's cgroup path in the hierarchy that has the memory
 * controller (v1: the line naming "memory"; v2: the "0::" line).
 */
static int own_cgroup(int version, char *path, size_t len)
{
	char line[1024];
	FILE *f = fopen("/proc/self/cgroup", "r");
	int ret = -1;

	if (!f)
		return -1;
	while (ret < 0 && fgets(line, sizeof(line), f)) {
		char *ctl = strchr(line, ':'), *p;

		if (!ctl)
			continue;
		*ctl++ = 0;
		p = strchr(ctl, ':');
		if (!p)
			continue;
		*p++ = 0;
		p[strcspn(p, "\n")] = 0;
		if (version == 2 ? !strcmp(line, "0") && !*ctl : version == 1 && *ctl) {
			bool memory = version == 2;

			for (char *c = strtok(ctl, ","); c && !memory; c = strtok(NULL, ","))
				memory = !strcmp(c, "memory");
			if (memory && strlen(p) < len) {
				strcpy(path, p);
				ret = 0;
			}
		}
	}
	fclose(f);
	return ret;
}

/*
 * Where the hierarchy is mounted (v1: a "cgroup" mount whose options name
 * memory; v2: "cgroup2"), and which cgroup the mount shows at its top.
 */
static int mount_of(int version, char *dir, size_t dlen, char *root, size_t rlen)
{
	char line[2048];
	FILE *f = fopen("/proc/self/mountinfo", "r");
	int ret = -1;

	if (!f)
		return -1;
	while (ret < 0 && fgets(line, sizeof(line), f)) {
		char mroot[512], mpoint[512], fstype[64], source[256], opts[512];
		char *dash = strstr(line, " - ");

		if (!dash || sscanf(line, "%*s %*s %*s %511s %511s", mroot, mpoint) != 2 ||
		    sscanf(dash + 3, "%63s %255s %511s", fstype, source, opts) != 3)
			continue;
		if (version == 2 ? strcmp(fstype, "cgroup2")
				 : strcmp(fstype, "cgroup") || !strstr(opts, "memory"))
			continue;
		if (strlen(mpoint) < dlen && strlen(mroot) < rlen) {
			strcpy(dir, mpoint);
			strcpy(root, mroot);
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

static int read_u64(const char *dir, const char *file, uint64_t *v)
{
	char path[BENCH_MEMCG_PATH + 64];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fscanf(f, "%" SCNu64, v) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

static int write_str(const char *dir, const char *file, const char *s)
{
	char path[BENCH_MEMCG_PATH + 64];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	if (fputs(s, f) < 0)
		ret = -errno;
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	return ret;
}

/* A child of this process's cgroup in one version's hierarchy; *why says why not. */
static int try_create(struct bench_memcg *cg, int version, char *why, size_t len)
{
	char mnt[512], root[512], own[1024], parent[BENCH_MEMCG_PATH];
	const char *rel;
	int n;

	if (mount_of(version, mnt, sizeof(mnt), root, sizeof(root)) < 0) {
		why_set(why, len, "no cgroup v%d hierarchy with the memory controller mounted",
			version);
		return -1;
	}
	if (own_cgroup(version, own, sizeof(own)) < 0) {
		why_set(why, len, "v%d: /proc/self/cgroup names no memory cgroup", version);
		return -1;
	}
	/* The path is relative to the cgroup namespace; the mount may show a subtree. */
	rel = own;
	if (strcmp(root, "/") && !strncmp(own, root, strlen(root)))
		rel = own + strlen(root);
	n = snprintf(parent, sizeof(parent), "%s%s", mnt, rel);
	if (n < 0 || (size_t)n >= sizeof(parent))
		return why_set(why, len, "v%d: cgroup path too long", version), -1;
	while (n > 1 && parent[n - 1] == '/')
		parent[--n] = 0;
	if (version == 2) {
		char ctl[256] = "";
		char path[BENCH_MEMCG_PATH + 64];
		FILE *f;

		/* The new child gets the memory controller only if its parent hands it down. */
		snprintf(path, sizeof(path), "%s/cgroup.subtree_control", parent);
		f = fopen(path, "r");
		if (f) {
			if (!fgets(ctl, sizeof(ctl), f))
				ctl[0] = 0;
			fclose(f);
		}
		if (!strstr(ctl, "memory")) {
			int err = write_str(parent, "cgroup.subtree_control", "+memory");

			if (err < 0) {
				why_set(
				    why, len,
				    "v2 %s: cannot enable the memory controller for children: %s",
				    parent, strerror(-err));
				return -1;
			}
		}
	}
	n = snprintf(cg->dir, sizeof(cg->dir), "%s/libvmm-bench-%d", parent, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(cg->dir))
		return why_set(why, len, "v%d: cgroup path too long", version), -1;
	if (mkdir(cg->dir, 0755) < 0 && errno != EEXIST) {
		why_set(why, len, "v%d %s: mkdir: %s", version, cg->dir, strerror(errno));
		return -1;
	}
	cg->version = version;
	return 0;
}

int bench_memcg_create(struct bench_memcg *cg, char *why, size_t len)
{
	char why1[200], why2[200];

	memset(cg, 0, sizeof(*cg));
	if (try_create(cg, 1, why1, sizeof(why1)) == 0 ||
	    try_create(cg, 2, why2, sizeof(why2)) == 0)
		return 0;
	why_set(why, len, "no writable memory cgroup (%s; %s)", why1, why2);
	return -1;
}

int bench_memcg_join(const struct bench_memcg *cg)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	return write_str(cg->dir, "cgroup.procs", pid);
}

int bench_memcg_read(const struct bench_memcg *cg, struct bench_memcg_usage *u)
{
	memset(u, 0, sizeof(*u));
	if (cg->version == 1) {
		/* v1: usage counts kernel memory too (kmem is charged to memory as well). */
		if (read_u64(cg->dir, "memory.usage_in_bytes", &u->total) < 0)
			return -1;
		u->have_kernel = read_u64(cg->dir, "memory.kmem.usage_in_bytes", &u->kernel) == 0;
		return 0;
	}
	if (read_u64(cg->dir, "memory.current", &u->total) < 0)
		return -1;
	{
		char path[BENCH_MEMCG_PATH + 64], key[64];
		unsigned long long v;
		FILE *f;

		snprintf(path, sizeof(path), "%s/memory.stat", cg->dir);
		f = fopen(path, "r");
		while (f && fscanf(f, "%63s %llu", key, &v) == 2) {
			if (!strcmp(key, "kernel")) {
				u->kernel = v;
				u->have_kernel = true;
			}
		}
		if (f)
			fclose(f);
	}
	return 0;
}

void bench_memcg_remove(struct bench_memcg *cg)
{
	if (cg->dir[0])
		rmdir(cg->dir);
	cg->dir[0] = 0;
}
