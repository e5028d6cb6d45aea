/* SPDX-License-Identifier: MIT */
/* config.c - vmm.ini(5): read an INI file with inih and check it into a struct vmm_config. */
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "vmm_internal.h"

enum section_kind { SECT_NONE, SECT_VM, SECT_RAM, SECT_ROM, SECT_DEVICE };

struct parser;

/* A key the core understands; set() parses value into the current section. */
struct key {
	const char *name;
	int (*set)(struct parser *p, const char *value, unsigned line);
};

struct parser {
	const char *file; /* as given by the caller: the FILE in "FILE:LINE: ..." */
	size_t dirlen;	  /* leading part of file that relative firmware paths hang off */
	FILE *fp;	  /* source: a file ... */
	const char *text; /* ... or a string */
	char *buf;	  /* getline() buffer for fp */
	size_t bufcap;
	unsigned lineno; /* of the line last handed to inih */
	int err;	 /* first error (negative errno), 0 while all is well */

	/* read_line()'s state between two lines (see there). */
	char header[INI_MAX_LINE]; /* the last header line, as handed to inih */
	bool header_pending;	   /* it goes in; the marker line follows */
	bool in_header;		   /* the marker line is in inih: the next handler call is it */
	bool key_pending;	   /* a key line is in inih, and no handler call came yet */

	struct vmm_config *cfg;
	size_t params_cap; /* of the current device's params */

	/* The section being read. */
	enum section_kind kind;
	unsigned sect_line;
	const struct key *keys;
	unsigned key_line[12]; /* line of each of keys[] once seen, else 0 */
	unsigned vm_line;      /* of [vm], 0 if none yet */
	uint64_t file_size;    /* of the current [rom]'s file, once its key is seen */

	/* Which entries of cfg->ram are [rom] sections, for messages: flags cannot tell. */
	bool is_rom[VMM_GUEST_MAX_RAM];
};

/* Indexes into the key tables, for the checks that need a whole section. */
enum { RAM_GPA, RAM_SIZE, RAM_READONLY };
enum { ROM_GPA = RAM_GPA, ROM_SIZE = RAM_SIZE, ROM_FILE };
enum { DEV_PLUGIN, DEV_MMIO, DEV_PIO, DEV_SIZE, DEV_IRQ };

static int fail(struct parser *p, unsigned line, int err, const char *fmt, ...) VMMI_FORMAT(4, 5);

/* Record the first error only: later ones are usually its consequences. */
static int fail(struct parser *p, unsigned line, int err, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	if (p->err)
		return p->err;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->err = vmmi_error(err, "%s:%u: %s", p->file, line, msg);
	return p->err;
}

static int fail_nomem(struct parser *p)
{
	return fail(p, p->lineno, -ENOMEM, "out of memory");
}

/* ---- numbers (their syntax is config/number.c's) ---- */

static int bad_number(struct parser *p, unsigned line, int ret, const char *key, const char *value,
		      const char *expected)
{
	if (ret == -ERANGE)
		return fail(p, line, -EINVAL, "%s = '%s' is too large", key, value);
	return fail(p, line, -EINVAL, "%s = '%s' is not a number: expected %s", key, value,
		    expected);
}

static int get_size(struct parser *p, unsigned line, const char *key, const char *value,
		    uint64_t *out)
{
	int ret = vmmi_parse_size(value, out);

	return ret ? bad_number(p, line, ret, key, value, VMMI_SIZE_SYNTAX) : 0;
}

static int get_bool(struct parser *p, unsigned line, const char *key, const char *value, bool *out)
{
	if (vmmi_parse_bool(value, out))
		return fail(p, line, -EINVAL, "%s = '%s' is not a boolean: expected %s", key, value,
			    VMMI_BOOL_SYNTAX);
	return 0;
}

/* ---- [vm] ---- */

static int set_accel(struct parser *p, const char *value, unsigned line)
{
	char names[128];

	if (vmm_accel_parse(value, &p->cfg->accel) == 0)
		return 0;
	vmmi_accel_names(names, sizeof(names));
	return fail(p, line, -EINVAL, "accel = '%s' is not an accelerator: expected %s", value,
		    names);
}

/*
 * A path as the config file names it: a relative one hangs off the file's
 * folder. NULL if out of memory.
 */
static char *resolve_path(const struct parser *p, const char *value)
{
	size_t dirlen = value[0] == '/' ? 0 : p->dirlen;
	size_t len = strlen(value);
	char *path = malloc(dirlen + len + 1);

	if (path) {
		memcpy(path, p->file, dirlen);
		memcpy(path + dirlen, value, len + 1);
	}
	return path;
}

static int set_firmware(struct parser *p, const char *value, unsigned line)
{
	struct vmm_config *cfg = p->cfg;

	if (!*value)
		return fail(p, line, -EINVAL, "firmware is empty: expected a path");
	cfg->firmware = resolve_path(p, value);
	if (!cfg->firmware)
		return fail_nomem(p);
	cfg->firmware_line = line;
	/* Now rather than at boot: a typo should stop the run before any VM exists. */
	if (access(cfg->firmware, R_OK))
		return fail(p, line, -EINVAL, "firmware '%s': %s", cfg->firmware, strerror(errno));
	return 0;
}

/* A file the VM is built from ([vm] kernel, initrd): resolved and checked now, like firmware. */
static int set_file(struct parser *p, const char *key, const char *value, unsigned line,
		    char **path, unsigned *path_line)
{
	if (!*value)
		return fail(p, line, -EINVAL, "%s is empty: expected a path", key);
	*path = resolve_path(p, value);
	if (!*path)
		return fail_nomem(p);
	if (path_line)
		*path_line = line;
	if (access(*path, R_OK))
		return fail(p, line, -EINVAL, "%s '%s': %s", key, *path, strerror(errno));
	return 0;
}

static int set_kernel(struct parser *p, const char *value, unsigned line)
{
	return set_file(p, "kernel", value, line, &p->cfg->kernel, &p->cfg->kernel_line);
}

static int set_initrd(struct parser *p, const char *value, unsigned line)
{
	return set_file(p, "initrd", value, line, &p->cfg->initrd, &p->cfg->initrd_line);
}

/* The kernel's command line, as written (inih has trimmed it); may be empty. */
static int set_cmdline(struct parser *p, const char *value, unsigned line)
{
	p->cfg->cmdline_line = line;
	p->cfg->cmdline = strdup(value);
	return p->cfg->cmdline ? 0 : fail_nomem(p);
}

static int set_vcpus(struct parser *p, const char *value, unsigned line)
{
	const char *s = value;
	uint64_t v;
	int ret = vmmi_parse_digits(&s, &v);

	if (!ret && *s)
		ret = -EINVAL;
	if (ret == -EINVAL)
		return bad_number(p, line, ret, "vcpus", value, "a count from 1 to 64");
	if (ret || v < 1 || v > VMM_GUEST_MAX_VCPUS)
		return fail(p, line, -EINVAL, "vcpus = '%s' is out of range: expected 1 to %u",
			    value, VMM_GUEST_MAX_VCPUS);
	p->cfg->vcpus = (unsigned)v;
	return 0;
}

static int set_timeout(struct parser *p, const char *value, unsigned line)
{
	int ret = vmmi_parse_duration_ms(value, &p->cfg->timeout_ms);

	return ret ? bad_number(p, line, ret, "timeout", value, VMMI_DURATION_SYNTAX " (0 = none)")
		   : 0;
}

static int set_unhandled(struct parser *p, const char *value, unsigned line)
{
	if (!strcmp(value, "ignore"))
		p->cfg->unclaimed = VMM_UNCLAIMED_IGNORE;
	else if (!strcmp(value, "stop"))
		p->cfg->unclaimed = VMM_UNCLAIMED_STOP;
	else
		return fail(p, line, -EINVAL,
			    "unhandled = '%s' is not a policy: expected ignore or stop", value);
	return 0;
}

static const struct key vm_keys[] = {
    {"accel", set_accel},     {"firmware", set_firmware},   {"vcpus", set_vcpus},
    {"timeout", set_timeout}, {"unhandled", set_unhandled}, {"kernel", set_kernel},
    {"initrd", set_initrd},   {"cmdline", set_cmdline},	    {NULL, NULL},
};

/* ---- [ram "NAME"] and [rom "NAME"] ---- */

static struct vmm_config_ram *cur_ram(struct parser *p)
{
	return &p->cfg->ram[p->cfg->nram - 1];
}

/* "ram" or "rom": the kind of section i of cfg->ram, as the file wrote it. */
static const char *mem_kind(const struct parser *p, size_t i)
{
	return p->is_rom[i] ? "rom" : "ram";
}

static const char *cur_kind(const struct parser *p)
{
	return mem_kind(p, p->cfg->nram - 1);
}

static int set_ram_gpa(struct parser *p, const char *value, unsigned line)
{
	struct vmm_config_ram *r = cur_ram(p);

	if (get_size(p, line, "gpa", value, &r->gpa))
		return p->err;
	if (r->gpa & VMMI_PAGE_MASK)
		return fail(p, line, -EINVAL,
			    "%s '%s': gpa 0x%llx is not a multiple of 4K (0x1000)", cur_kind(p),
			    r->name, (unsigned long long)r->gpa);
	return 0;
}

static int set_ram_size(struct parser *p, const char *value, unsigned line)
{
	struct vmm_config_ram *r = cur_ram(p);

	if (get_size(p, line, "size", value, &r->size))
		return p->err;
	if (!r->size)
		return fail(p, line, -EINVAL, "%s '%s': size is 0", cur_kind(p), r->name);
	if (r->size & VMMI_PAGE_MASK)
		return fail(p, line, -EINVAL,
			    "%s '%s': size 0x%llx is not a multiple of 4K (0x1000)", cur_kind(p),
			    r->name, (unsigned long long)r->size);
	return 0;
}

static int set_ram_readonly(struct parser *p, const char *value, unsigned line)
{
	bool ro = false;

	if (get_bool(p, line, "readonly", value, &ro))
		return p->err;
	cur_ram(p)->flags = ro ? VMM_MEMSLOT_READONLY : 0;
	return 0;
}

static const struct key ram_keys[] = {
    [RAM_GPA] = {"gpa", set_ram_gpa},
    [RAM_SIZE] = {"size", set_ram_size},
    [RAM_READONLY] = {"readonly", set_ram_readonly},
    {NULL, NULL},
};

/*
 * The file that fills a ROM, checked now so that a typo stops the run before
 * any VM exists; its size decides or bounds the ROM's (close_mem()). setup.c
 * reads it, and checks the size again: the file may change in between.
 */
static int set_rom_file(struct parser *p, const char *value, unsigned line)
{
	struct vmm_config_ram *r = cur_ram(p);
	struct stat st;
	int fd, e;

	if (!*value)
		return fail(p, line, -EINVAL, "file is empty: expected a path");
	r->file = resolve_path(p, value);
	if (!r->file)
		return fail_nomem(p);
	/* O_NONBLOCK: a FIFO named by mistake must not hang the parse. */
	fd = open(r->file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st)) {
		e = errno;
		if (fd >= 0)
			close(fd);
		return fail(p, line, -EINVAL, "rom '%s': file '%s': %s", r->name, r->file,
			    strerror(e));
	}
	close(fd);
	if (!S_ISREG(st.st_mode))
		return fail(p, line, -EINVAL, "rom '%s': file '%s' is not a regular file", r->name,
			    r->file);
	p->file_size = (uint64_t)st.st_size;
	return 0;
}

static const struct key rom_keys[] = {
    [ROM_GPA] = {"gpa", set_ram_gpa},
    [ROM_SIZE] = {"size", set_ram_size},
    [ROM_FILE] = {"file", set_rom_file},
    {NULL, NULL},
};

/* ---- [device "NAME"] ---- */

static struct vmm_config_device *cur_dev(struct parser *p)
{
	return &p->cfg->devices[p->cfg->ndevices - 1];
}

static int set_dev_plugin(struct parser *p, const char *value, unsigned line)
{
	if (!*value)
		return fail(p, line, -EINVAL, "plugin is empty: expected a plugin name or path");
	cur_dev(p)->plugin = strdup(value);
	return cur_dev(p)->plugin ? 0 : fail_nomem(p);
}

static int set_dev_window(struct parser *p, const char *key, uint32_t space, const char *value,
			  unsigned line)
{
	struct vmm_config_device *d = cur_dev(p);
	unsigned other = p->key_line[space == VMM_SPACE_PIO ? DEV_MMIO : DEV_PIO];

	if (other)
		return fail(p, line, -EINVAL,
			    "device '%s' has both mmio and pio (line %u): give one", d->name,
			    other);
	if (get_size(p, line, key, value, &d->base))
		return p->err;
	d->space = space;
	return 0;
}

static int set_dev_mmio(struct parser *p, const char *value, unsigned line)
{
	return set_dev_window(p, "mmio", VMM_SPACE_MMIO, value, line);
}

static int set_dev_pio(struct parser *p, const char *value, unsigned line)
{
	return set_dev_window(p, "pio", VMM_SPACE_PIO, value, line);
}

static int set_dev_size(struct parser *p, const char *value, unsigned line)
{
	struct vmm_config_device *d = cur_dev(p);

	if (get_size(p, line, "size", value, &d->length))
		return p->err;
	if (!d->length)
		return fail(p, line, -EINVAL, "device '%s': size is 0", d->name);
	return 0;
}

/* `irq = 4` or `irq = 4, 9`: a list of numbers; which pins exist is the core's rule. */
static int set_dev_irq(struct parser *p, const char *value, unsigned line)
{
	struct vmm_config_device *d = cur_dev(p);
	const char *c = value;

	for (;;) {
		uint32_t *n;
		uint64_t v;

		while (*c == ' ' || *c == '\t')
			c++;
		if (vmmi_parse_digits(&c, &v) < 0 || v > UINT32_MAX)
			return fail(p, line, -EINVAL,
				    "irq = '%s' is not a list of numbers: expected e.g. 4 or 4, 9",
				    value);
		n = realloc(d->irqs, (d->nirqs + 1) * sizeof(*n));
		if (!n)
			return fail_nomem(p);
		d->irqs = n;
		d->irqs[d->nirqs++] = (uint32_t)v;
		while (*c == ' ' || *c == '\t')
			c++;
		if (!*c)
			return 0;
		if (*c++ != ',')
			return fail(p, line, -EINVAL,
				    "irq = '%s' is not a list of numbers: expected e.g. 4 or 4, 9",
				    value);
	}
}

static const struct key device_keys[] = {
    [DEV_PLUGIN] = {"plugin", set_dev_plugin}, [DEV_MMIO] = {"mmio", set_dev_mmio},
    [DEV_PIO] = {"pio", set_dev_pio},	       [DEV_SIZE] = {"size", set_dev_size},
    [DEV_IRQ] = {"irq", set_dev_irq},	       {NULL, NULL},
};

/* Keys the core does not know belong to the device model, which checks them at create(). */
static int add_param(struct parser *p, const char *key, const char *value, unsigned line)
{
	struct vmm_config_device *d = cur_dev(p);
	struct vmm_device_param *prm;

	for (size_t i = 0; i < d->nparams; i++) {
		if (!strcmp(d->params[i].key, key))
			return fail(p, line, -EINVAL, "duplicate key '%s' (first at line %u)", key,
				    d->params[i].line);
	}
	if (d->nparams == p->params_cap) {
		size_t cap = p->params_cap ? 2 * p->params_cap : 4;

		prm = realloc(d->params, cap * sizeof(*prm));
		if (!prm)
			return fail_nomem(p);
		d->params = prm;
		p->params_cap = cap;
	}
	prm = &d->params[d->nparams];
	prm->key = strdup(key);
	prm->value = strdup(value);
	prm->file = p->cfg->path;
	prm->line = line;
	d->nparams++; /* even half-made, so that vmm_config_free() frees it */
	return prm->key && prm->value ? 0 : fail_nomem(p);
}

/* ---- sections ---- */

static int missing(struct parser *p, const char *what, const char *name, const char *key)
{
	return fail(p, p->sect_line, -EINVAL, "%s '%s' lacks the required key '%s'", what, name,
		    key);
}

/* A [rom]'s size: given, or its file's rounded up to 4K; a given size must hold the file. */
static int close_rom_size(struct parser *p, struct vmm_config_ram *r)
{
	unsigned file_line = p->key_line[ROM_FILE];

	if (!file_line && !p->key_line[ROM_SIZE])
		return fail(p, p->sect_line, -EINVAL,
			    "rom '%s' lacks both 'size' and 'file': give either or both", r->name);
	if (!file_line)
		return 0;
	if (!p->key_line[ROM_SIZE]) {
		if (!p->file_size)
			return fail(p, file_line, -EINVAL,
				    "rom '%s': file '%s' is empty: give a size", r->name, r->file);
		/* No overflow: a file's size fits in an off_t, so below 2^63. */
		r->size = (p->file_size + VMMI_PAGE_MASK) & ~VMMI_PAGE_MASK;
	} else if (p->file_size > r->size) {
		return fail(p, file_line, -EINVAL,
			    "rom '%s': file '%s' is 0x%llx bytes, larger than its size 0x%llx",
			    r->name, r->file, (unsigned long long)p->file_size,
			    (unsigned long long)r->size);
	}
	return 0;
}

/*
 * Checks that need the whole [ram] or [rom] section: its required keys.
 * Where it may lie (limits, overlaps) is the core's to say, with this
 * section's line: see layout.c.
 */
static int close_mem(struct parser *p)
{
	const struct vmm_config *cfg = p->cfg;
	struct vmm_config_ram *r = &cfg->ram[cfg->nram - 1];
	const char *kind = cur_kind(p);

	if (!p->key_line[RAM_GPA])
		return missing(p, kind, r->name, "gpa");
	if (p->kind == SECT_ROM)
		return close_rom_size(p, r);
	if (!p->key_line[RAM_SIZE])
		return missing(p, kind, r->name, "size");
	return 0;
}

/* The same for a [device]: its required keys; where its window may lie is the core's to say. */
static int close_device(struct parser *p)
{
	const struct vmm_config *cfg = p->cfg;
	const struct vmm_config_device *d = &cfg->devices[cfg->ndevices - 1];

	if (!p->key_line[DEV_PLUGIN])
		return missing(p, "device", d->name, "plugin");
	if (!p->key_line[DEV_MMIO] && !p->key_line[DEV_PIO])
		return fail(p, p->sect_line, -EINVAL,
			    "device '%s' lacks a window: give mmio = GPA or pio = PORT", d->name);
	if (!p->key_line[DEV_SIZE])
		return missing(p, "device", d->name, "size");
	return 0;
}

static int close_section(struct parser *p)
{
	switch (p->kind) {
	case SECT_RAM:
	case SECT_ROM:
		return close_mem(p);
	case SECT_DEVICE:
		return close_device(p);
	default:
		return 0;
	}
}

/* Names of sections and keys: what a guest's boot info and a log line can carry safely. */
static bool name_ok(const char *s, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	}
	return true;
}

#define NAME_RULE "1 to 31 characters of A-Z a-z 0-9 _ . -"

/* Open section kind (NUL terminated) named [name, name + nlen) (name NULL: none), declared at line.
 */
static int open_section(struct parser *p, const char *kind, const char *name, size_t nlen,
			unsigned line)
{
	struct vmm_config *cfg = p->cfg;
	bool rom = !strcmp(kind, "rom");
	bool mem = rom || !strcmp(kind, "ram");
	char *copy;

	if (close_section(p))
		return p->err;
	memset(p->key_line, 0, sizeof(p->key_line));
	p->params_cap = 0;
	p->file_size = 0;
	p->sect_line = line;

	if (!strcmp(kind, "vm")) {
		if (name)
			return fail(p, line, -EINVAL, "section vm takes no name");
		if (p->vm_line)
			return fail(p, line, -EINVAL, "duplicate section vm (first at line %u)",
				    p->vm_line);
		p->vm_line = line;
		p->cfg->vm_line = line;
		p->kind = SECT_VM;
		p->keys = vm_keys;
		return 0;
	}
	if (!mem && strcmp(kind, "device"))
		return fail(p, line, -EINVAL,
			    "unknown section kind '%s': expected vm, ram, rom or device", kind);
	if (!name)
		return fail(p, line, -EINVAL, "section %s needs a name, as in [%s \"%s\"]", kind,
			    kind, rom ? "flash" : (mem ? "low" : "uart0"));
	if (nlen >= VMM_GUEST_NAME_MAX || !name_ok(name, nlen))
		return fail(p, line, -EINVAL, "bad name '%.*s': expected " NAME_RULE, (int)nlen,
			    name);

	if (mem) {
		/* One namespace: both kinds are memslots, and slots go by name in messages. */
		for (size_t i = 0; i < cfg->nram; i++) {
			if (strncmp(cfg->ram[i].name, name, nlen) || cfg->ram[i].name[nlen])
				continue;
			if (p->is_rom[i] == rom)
				return fail(p, line, -EINVAL,
					    "duplicate section %s '%s' (first at line %u)", kind,
					    cfg->ram[i].name, cfg->ram[i].line);
			return fail(p, line, -EINVAL,
				    "%s '%s' has the name of %s '%s' (line %u): ram and "
				    "rom sections share one set of names",
				    kind, cfg->ram[i].name, mem_kind(p, i), cfg->ram[i].name,
				    cfg->ram[i].line);
		}
		if (cfg->nram == VMM_GUEST_MAX_RAM)
			return fail(p, line, -EINVAL,
				    "too many ram and rom sections: at most %u in all",
				    VMM_GUEST_MAX_RAM);
	} else {
		for (size_t i = 0; i < cfg->ndevices; i++) {
			if (!strncmp(cfg->devices[i].name, name, nlen) &&
			    !cfg->devices[i].name[nlen])
				return fail(p, line, -EINVAL,
					    "duplicate section device '%s' (first at line %u)",
					    cfg->devices[i].name, cfg->devices[i].line);
		}
		if (cfg->ndevices == VMM_GUEST_MAX_DEVICES)
			return fail(p, line, -EINVAL, "too many device sections: at most %u",
				    VMM_GUEST_MAX_DEVICES);
	}

	copy = strndup(name, nlen);
	if (!copy)
		return fail_nomem(p);
	if (mem) {
		p->is_rom[cfg->nram] = rom;
		cfg->ram[cfg->nram].name = copy;
		cfg->ram[cfg->nram].flags = rom ? VMM_MEMSLOT_READONLY : 0;
		cfg->ram[cfg->nram++].line = line;
		p->kind = rom ? SECT_ROM : SECT_RAM;
		p->keys = rom ? rom_keys : ram_keys;
	} else {
		cfg->devices[cfg->ndevices].name = copy;
		cfg->devices[cfg->ndevices++].line = line;
		p->kind = SECT_DEVICE;
		p->keys = device_keys;
	}
	return 0;
}

/* ---- section headers, as inih read them ---- */

/*
 * inih keeps a section's text in a buffer of this size (MAX_SECTION in its
 * ini.c, not in ini.h): a longer one reaches the handler cut short.
 */
#define INIH_SECTION_MAX 50

static const char *skip_blanks(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

#define HEADER_SYNTAX "expected [KIND] or [KIND \"NAME\"]"

/*
 * A section has begun: inih read the header at line (raw, as the reader
 * handed it) into section, the text between its brackets. That text is
 * KIND or KIND "NAME", blanks allowed around the parts; after the ']'
 * only a comment may follow, which inih would ignore.
 */
static int on_section(struct parser *p, const char *section, const char *raw, unsigned line)
{
	size_t len = strlen(section), klen, nlen = 0;
	const char *s, *k, *name = NULL;
	char kind[16];

	if (strncmp(raw + 1, section, len) || raw[1 + len] != ']') {
		/* inih refused the header (it kept the previous section), or cut it short. */
		if (len == INIH_SECTION_MAX - 1 && !strncmp(raw + 1, section, len))
			return fail(p, line, -EINVAL,
				    "bad section header: longer than %d characters between its "
				    "brackets",
				    INIH_SECTION_MAX - 1);
		return fail(p, line, -EINVAL, "%s: " HEADER_SYNTAX,
			    strchr(raw, ']') ? "bad section header"
					     : "section header lacks its ']'");
	}
	s = skip_blanks(section);
	for (k = s; isalnum((unsigned char)*s) || *s == '_' || *s == '-'; s++)
		;
	klen = s - k;
	s = skip_blanks(s);
	if (*s == '"') {
		name = ++s;
		s = strchr(s, '"');
		if (!s)
			return fail(p, line, -EINVAL, "section name lacks its closing '\"'");
		nlen = s - name;
		s = skip_blanks(s + 1);
	}
	if (*s)
		return fail(p, line, -EINVAL, "bad section header: " HEADER_SYNTAX);
	s = skip_blanks(raw + 2 + len);
	if (*s && *s != ';' && *s != '#')
		return fail(p, line, -EINVAL, "text after the section header's ']'");
	if (!klen || klen >= sizeof(kind))
		return fail(p, line, -EINVAL, "bad section header: " HEADER_SYNTAX);
	memcpy(kind, k, klen);
	kind[klen] = '\0';
	return open_section(p, kind, name, nlen, line);
}

/* ---- inih glue ---- */

/* Next raw line of the source, with its '\n' if any; -1 at the end (or on a read error). */
static ssize_t next_line(struct parser *p, const char **line)
{
	ssize_t len;

	if (p->fp) {
		errno = 0;
		len = getline(&p->buf, &p->bufcap, p->fp);
		if (len < 0 && ferror(p->fp)) {
			int e = errno ? errno : EIO;

			fail(p, p->lineno + 1, -e, "cannot read: %s", strerror(e));
		}
		*line = p->buf;
		return len;
	}
	if (!*p->text)
		return -1;
	*line = p->text;
	len = strcspn(p->text, "\n");
	if (p->text[len] == '\n')
		len++;
	p->text += len;
	return len;
}

/*
 * inih's reader. It parses nothing: it counts lines, because inih's own
 * count never reaches the handler in the distro build, and keeps inih and
 * that count in step:
 * - each line goes to inih without its indentation, which turns off inih's
 *   multi-line values (an indented key is a key, not a continuation of the
 *   previous value, and no handler call ever spans two lines);
 * - a line longer than inih's buffer is an error here, where inih would
 *   read it, cut, as two lines;
 * - after a section header it hands inih one extra line, "=", that is no
 *   line of the file: inih calls the handler for it with the new section,
 *   which is how an empty section is seen (the distro's inih does not call
 *   the handler on a new section);
 * - a line that is neither blank, a comment nor a header, and that made
 *   inih call no handler, is one inih refused: the error is named here,
 *   with its line, rather than by inih's count at the end.
 * Returning NULL ends the parse: that is how the first error stops it.
 */
static char *read_line(char *out, int num, void *user)
{
	struct parser *p = user;
	const char *line, *s;
	ssize_t len;
	size_t n;

	if (p->err)
		return NULL;
	if (num < 3) {
		fail(p, p->lineno, -EINVAL, "inih gives lines of %d characters", num);
		return NULL;
	}
	if (p->key_pending) {
		fail(p, p->lineno, -EINVAL, "syntax error: expected 'key = value'");
		return NULL;
	}
	if (p->header_pending) {
		p->header_pending = false;
		p->in_header = true;
		memcpy(out, "=\n", 3);
		return out;
	}
	len = next_line(p, &line);
	if (len < 0)
		return NULL;
	p->lineno++;
	if (memchr(line, '\0', len)) {
		fail(p, p->lineno, -EINVAL, "NUL byte in the line");
		return NULL;
	}
	s = line;
	if (p->lineno == 1 && !strncmp(s, "\xef\xbb\xbf", 3))
		s += 3; /* a UTF-8 byte order mark */
	while (s < line + len && *s != '\n' && isspace((unsigned char)*s))
		s++;
	n = line + len - s;
	if (n && s[n - 1] == '\n')
		n--;
	/* Room for the line, '\n' and NUL: inih would read a cut line as two. */
	if (n > (size_t)num - 2 || n >= sizeof(p->header)) {
		fail(p, p->lineno, -EINVAL, "line longer than %d characters", num - 2);
		return NULL;
	}
	memcpy(out, s, n);
	out[n] = '\n';
	out[n + 1] = '\0';
	if (*out == '[') {
		/* inih writes into out: keep the header as written, for on_section(). */
		memcpy(p->header, out, n + 1);
		p->header[n] = '\0';
		p->header_pending = true;
	} else if (!strchr(";#\n", *out)) {
		p->key_pending = true;
	}
	return out;
}

static const char *section_title(struct parser *p, char *buf, size_t len)
{
	if (p->kind == SECT_VM)
		return "vm";
	if (p->kind == SECT_DEVICE)
		snprintf(buf, len, "device '%s'", cur_dev(p)->name);
	else
		snprintf(buf, len, "%s '%s'", cur_kind(p), cur_ram(p)->name);
	return buf;
}

/* inih's handler: a key of the current section, or the reader's line after a header. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;
	unsigned line = p->lineno;
	char title[64];

	p->key_pending = false;
	if (p->err)
		return 0;
	if (p->in_header) {
		p->in_header = false;
		return !on_section(p, section, p->header, line);
	}
	if (!name_ok(name, strlen(name)))
		return !fail(p, line, -EINVAL, "bad key name '%s': expected A-Z a-z 0-9 _ . -",
			     name);
	if (p->kind == SECT_NONE)
		return !fail(
		    p, line, -EINVAL,
		    "key '%s' outside any section: start with a section header, such as [vm]",
		    name);
	for (size_t i = 0; p->keys[i].name; i++) {
		if (strcmp(p->keys[i].name, name))
			continue;
		if (p->key_line[i])
			return !fail(p, line, -EINVAL, "duplicate key '%s' (first at line %u)",
				     name, p->key_line[i]);
		p->key_line[i] = line;
		return !p->keys[i].set(p, value, line);
	}
	if (p->kind == SECT_DEVICE)
		return !add_param(p, name, value, line);
	return !fail(p, line, -EINVAL, "unknown key '%s' in %s", name,
		     section_title(p, title, sizeof(title)));
}

/* ---- API ---- */

void vmm_config_free(struct vmm_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->nram; i++) {
		free(cfg->ram[i].name);
		free(cfg->ram[i].file);
	}
	for (size_t i = 0; i < cfg->ndevices; i++) {
		struct vmm_config_device *d = &cfg->devices[i];

		for (size_t j = 0; j < d->nparams; j++) {
			free((char *)d->params[j].key);
			free((char *)d->params[j].value);
		}
		free(d->params);
		free(d->irqs);
		free(d->name);
		free(d->plugin);
	}
	free(cfg->ram);
	free(cfg->devices);
	free(cfg->firmware);
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	free(cfg->path);
	free(cfg);
}

/* The one parser behind load and parse_string: p has its source and names set. */
static int parse(struct parser *p, struct vmm_config **out)
{
	struct vmm_config *cfg;
	size_t i;
	int ret;

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return vmmi_error(-ENOMEM, "%s: out of memory", p->file);
	p->cfg = cfg;
	cfg->accel = VMM_ACCEL_AUTO;
	cfg->vcpus = 1;
	cfg->unclaimed = VMM_UNCLAIMED_IGNORE;
	/* Fixed capacity: the limits are small and the arrays never move, so params' file stays
	 * valid. */
	cfg->path = strdup(p->file);
	cfg->ram = calloc(VMM_GUEST_MAX_RAM, sizeof(*cfg->ram));
	cfg->devices = calloc(VMM_GUEST_MAX_DEVICES, sizeof(*cfg->devices));
	if (!cfg->path || !cfg->ram || !cfg->devices) {
		p->err = vmmi_error(-ENOMEM, "%s: out of memory", p->file);
		goto err;
	}

	ret = ini_parse_stream(read_line, p, on_key, p);
	if (ret > 0 && !p->err) {
		/* inih refused a line and read_line() did not see it: a bug, but say where. */
		fail(p, p->lineno, -EINVAL, "syntax error");
	} else if (ret < 0 && !p->err) {
		fail(p, p->lineno, -ENOMEM, "out of memory");
	}
	if (p->err)
		goto err;
	if (close_section(p))
		goto err;
	if (cfg->kernel && cfg->firmware) {
		fail(p, cfg->kernel_line, -EINVAL,
		     "vm has both kernel and firmware (line %u): boot one or the other",
		     cfg->firmware_line);
		goto err;
	}
	if (cfg->initrd && !cfg->kernel) {
		fail(p, cfg->initrd_line, -EINVAL, "vm has an initrd but no kernel to give it to");
		goto err;
	}
	if (!cfg->nram) {
		fail(p, p->lineno ? p->lineno : 1, -EINVAL,
		     "no ram section: the guest needs memory");
		goto err;
	}
	for (i = 0; i < cfg->nram && (cfg->ram[i].flags & VMM_MEMSLOT_READONLY); i++)
		;
	if (i == cfg->nram) {
		/* vmm_boot_setup() would refuse it later, without a line to point at. */
		fail(p, p->lineno, -EINVAL,
		     "every ram and rom section is read-only: the guest needs writable RAM "
		     "for its boot area and stacks");
		goto err;
	}
	*out = cfg;
	return 0;
err:
	vmm_config_free(cfg);
	return p->err;
}

int vmm_config_load(const char *path, struct vmm_config **out)
{
	struct parser p = {.file = path};
	const char *slash;
	int ret;

	if (!out)
		return vmmi_error(-EINVAL, "vmm_config_load: out is NULL");
	*out = NULL;
	if (!path || !*path)
		return vmmi_error(-EINVAL, "vmm_config_load: no path");
	p.fp = fopen(path, "re");
	if (!p.fp) {
		ret = errno;
		return vmmi_error(-ret, "%s: %s", path, strerror(ret));
	}
	slash = strrchr(path, '/');
	p.dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	ret = parse(&p, out);
	free(p.buf);
	fclose(p.fp);
	return ret;
}

int vmm_config_parse_string(const char *text, const char *name, struct vmm_config **out)
{
	struct parser p = {.file = name ? name : "<string>", .text = text};

	if (!out)
		return vmmi_error(-EINVAL, "vmm_config_parse_string: out is NULL");
	*out = NULL;
	if (!text)
		return vmmi_error(-EINVAL, "vmm_config_parse_string: text is NULL");
	return parse(&p, out);
}
