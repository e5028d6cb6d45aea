/* SPDX-License-Identifier: MIT */
/*
 * test_translate.c - end-to-end tests of vmm-run --translate:
 * the three tables after the guest stops, and refused values.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "pagemap.h"

#include "e2e.h"

TestSuite(translate, .fini = e2e_cleanup);

/* The output split into lines with their words: what a reader of the tables sees. */
#define MAX_LINES 256
struct lines {
	unsigned n;
	const char *line[MAX_LINES];
};

static void split_lines(const char *text, struct lines *l)
{
	const char *p = text;

	l->n = 0;
	while (*p && l->n < MAX_LINES) {
		size_t len = strcspn(p, "\n");

		l->line[l->n++] = e2e_strf("%.*s", (int)len, p);
		p += len;
		if (*p)
			p++;
	}
}

/* Word i (from 0) of a line, split at blanks; "" past the end. */
static const char *word(const char *line, unsigned i)
{
	const char *p = line;
	size_t len;

	for (;;) {
		p += strspn(p, " \t");
		len = strcspn(p, " \t");
		if (!len || !i--)
			break;
		p += len;
	}
	return e2e_strf("%.*s", (int)len, p);
}

/* The text after the first n words: a row's explanation. */
static const char *rest_after(const char *line, unsigned n)
{
	const char *p = line;

	for (unsigned i = 0; i < n; i++) {
		p += strspn(p, " \t");
		p += strcspn(p, " \t");
	}
	return p + strspn(p, " \t");
}

/* The index of the first line at or after from whose words are exactly words[]. */
static unsigned find_header(const struct lines *l, unsigned from, const char *const *words,
			    unsigned nwords, const struct e2e_result *r)
{
	for (unsigned i = from; i < l->n; i++) {
		unsigned w;

		for (w = 0; w < nwords && !strcmp(word(l->line[i], w), words[w]); w++)
			;
		if (w == nwords && !*word(l->line[i], nwords))
			return i;
	}
	cr_assert_fail("no header \"%s %s %s\" after line %u: %s", words[0], words[1],
		       nwords > 2 ? words[2] : "", from, e2e_describe(r));
	return 0;
}

static bool is_hex(const char *s)
{
	if (strncmp(s, "0x", 2) || !s[2])
		return false;
	return strspn(s + 2, "0123456789abcdef") == strlen(s + 2);
}

/* The demo with RAM, a device GPA and an unclaimed one: check each row of the three tables. */
static void check_demo_tables(const char *accel)
{
	static const char *const h1[] = {"GPA", "->", "HVA", "(memslots)"};
	static const char *const h2[] = {"HVA", "->", "HPA", "(host", "page", "tables)"};
	static const char *const h3[] = {"GPA", "->", "HPA"};
	struct e2e_result r;
	struct lines l;
	unsigned a, b, c;
	const char *hva, *hpa;

	e2e_vmm_run(&r, accel, "--translate=0x100000,0xfebf0010", "--translate=0x50000000",
		    E2E_DEMO_INI, NULL);
	assert_exit(&r, 0);
	split_lines(r.out, &l);
	a = find_header(&l, 0, h1, 4, &r);
	b = find_header(&l, a + 1, h2, 6, &r);
	c = find_header(&l, b + 1, h3, 3, &r);
	cr_assert(b == a + 4 && c == b + 4 && l.n >= c + 4, "expected 3 rows per table: %s",
		  e2e_describe(&r));
	/* The guest's output is flushed first: the tables come after its summary. */
	cr_assert(e2e_has_line(r.out, "selftest: "), "no guest output: %s", e2e_describe(&r));
	cr_assert(strstr(r.out, "selftest: ") < strstr(r.out, l.line[a]),
		  "tables before the guest's output: %s", e2e_describe(&r));

	/* GPA -> HVA */
	cr_assert_str_eq(word(l.line[a + 1], 0), "0x100000");
	hva = word(l.line[a + 1], 1);
	cr_assert(is_hex(hva) && strcmp(hva, "0x0"), "no HVA in \"%s\"", l.line[a + 1]);
	cr_assert_str_eq(rest_after(l.line[a + 1], 2), "memslot low [0x0, 0x4000000)");
	cr_assert_str_eq(word(l.line[a + 2], 0), "0xfebf0010");
	cr_assert(strstr(l.line[a + 2], "device test0 (testdev) mmio [0xfebf0000, 0xfebf1000)"),
		  "device row: \"%s\"", l.line[a + 2]);
	cr_assert_str_eq(word(l.line[a + 3], 0), "0x50000000");
	cr_assert(strstr(l.line[a + 3], "unclaimed (no memslot or device)"),
		  "unclaimed row: \"%s\"", l.line[a + 3]);

	/* HVA -> HPA: the firmware was loaded at 0x100000, so that page is present. */
	cr_assert_str_eq(word(l.line[b + 1], 0), hva);
	hpa = word(l.line[b + 1], 1);
	if (test_pfns_visible()) {
		cr_assert(is_hex(hpa) && strcmp(hpa, "0x0"), "no HPA in \"%s\"", l.line[b + 1]);
		/* The HVA is page aligned (mmap base + 1 MiB), so the HPA is too. */
		cr_assert(!strcmp(hpa + strlen(hpa) - 3, "000"), "HPA %s is not page aligned", hpa);
	} else {
		cr_assert(strstr(l.line[b + 1], "unavailable (/proc/self/pagemap: "),
			  "expected unavailable: \"%s\"", l.line[b + 1]);
	}
	cr_assert_str_eq(word(l.line[b + 2], 0), "-");
	cr_assert(strstr(l.line[b + 2], "- (not memory: device test0)"), "\"%s\"", l.line[b + 2]);
	cr_assert_str_eq(word(l.line[b + 3], 0), "-");
	cr_assert(strstr(l.line[b + 3], "- (not memory: unclaimed)"), "\"%s\"", l.line[b + 3]);

	/* GPA -> HPA: the two above composed. */
	cr_assert_str_eq(word(l.line[c + 1], 0), "0x100000");
	cr_assert_str_eq(rest_after(l.line[c + 1], 1), rest_after(l.line[b + 1], 1));
	cr_assert_str_eq(word(l.line[c + 2], 0), "0xfebf0010");
	cr_assert(strstr(l.line[c + 2], "- (not memory: device test0)"), "\"%s\"", l.line[c + 2]);
	cr_assert_str_eq(word(l.line[c + 3], 0), "0x50000000");
	cr_assert(strstr(l.line[c + 3], "- (not memory: unclaimed)"), "\"%s\"", l.line[c + 3]);
}

Test(translate, demo_prints_the_three_tables_on_emu)
{
	check_demo_tables("--accel=emu");
}

Test(translate, demo_prints_the_three_tables_on_kvm)
{
	e2e_require_kvm();
	check_demo_tables("--accel=kvm");
}

/* A guest that halts at once: RAM it never touched has no host page, and a halt still prints. */
static void check_untouched_page(const char *accel)
{
	static const uint8_t hlt_code[] = {0xf4};
	const char *fw = e2e_write_elf("hlt.elf", hlt_code, sizeof(hlt_code));
	const char *ini = e2e_guest_config("hlt.ini", fw, accel, "20s", "");
	struct e2e_result r;
	const char *row;

	e2e_vmm_run(&r, "--translate=0x800000", ini, NULL);
	assert_exit(&r, 125);
	row = e2e_find_line(r.out, "0x800000 ");
	cr_assert_not_null(row, "no GPA row: %s", e2e_describe(&r));
	cr_assert_eq(e2e_count_lines(r.out, "0x800000 "), 2, "expected rows in two tables: %s",
		     e2e_describe(&r));
	assert_contains(r.out, "not present (page not faulted in or swapped out)", &r);
}

Test(translate, untouched_ram_is_not_present_on_emu)
{
	check_untouched_page("emu");
}

Test(translate, untouched_ram_is_not_present_on_kvm)
{
	e2e_require_kvm();
	check_untouched_page("kvm");
}

static void check_refused(const char *arg, const char *needle)
{
	struct e2e_result r;

	e2e_vmm_run(&r, "--accel=emu", arg, E2E_DEMO_INI, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, needle, &r);
	cr_assert_str_empty(r.out, "nothing should run: %s", e2e_describe(&r));
}

Test(translate, garbage_value_exits_2_naming_it)
{
	check_refused("--translate=zz", "--translate: bad guest-physical address 'zz'");
}

Test(translate, bad_item_in_a_list_is_named_alone)
{
	check_refused("--translate=0x1000,12abc", "bad guest-physical address '12abc'");
}

Test(translate, negative_value_is_refused)
{
	check_refused("--translate=-1", "bad guest-physical address '-1'");
}

Test(translate, value_above_64_bits_is_refused)
{
	check_refused("--translate=0x10000000000000000",
		      "'0x10000000000000000' (more than 64 bits)");
}

Test(translate, empty_item_is_refused)
{
	check_refused("--translate=0x1000,", "--translate: empty address in '0x1000,'");
}
