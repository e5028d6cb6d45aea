/* SPDX-License-Identifier: MIT */
/* test_embed.c - end-to-end tests of examples/embed, which builds a VM through the API alone. */
#include <string.h>

#include <criterion/criterion.h>

#include "e2e.h"

#define EMBED BUILD_DIR "/examples/embed"

TestSuite(embed, .fini = e2e_cleanup);

static void check_embed(const char *accel)
{
	const char *argv[] = {EMBED, accel, NULL};
	struct e2e_spawn spec = {.argv = argv};
	static const char *const want[] = {
	    "doorbell: created 'doorbell0' at 0xfe000000\n",
	    "doorbell: read  offset 0x0 size 4 -> 0\n",
	    "doorbell: write offset 0x0 size 8 <- 42\n",
	    "embed: exit stopped, code 42\n",
	    "doorbell: 1 read(s), 1 write(s)\n",
	};
	struct e2e_result r;
	size_t i;

	e2e_spawn(&spec, &r);
	cr_assert(r.exited && r.status == 0, "expected exit 0: %s", e2e_describe(&r));
	cr_assert(strstr(r.out, e2e_strf("embed: backend %s\n", accel)), "wrong backend: %s",
		  e2e_describe(&r));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert(strstr(r.out, want[i]), "expected \"%s\": %s", want[i], e2e_describe(&r));
}

Test(embed, guest_rings_the_doorbell_with_42_on_emu)
{
	check_embed("emu");
}

Test(embed, guest_rings_the_doorbell_with_42_on_kvm)
{
	e2e_require_kvm();
	check_embed("kvm");
}

#define COUNTER BUILD_DIR "/examples/plugin/counter.so"

/* embed ACCEL PLUGIN: the guest adds 30 and 12 in the counter plugin and rings with the sum. */
static void check_embed_counter(const char *accel)
{
	const char *argv[] = {EMBED, accel, COUNTER, NULL};
	struct e2e_spawn spec = {.argv = argv};
	struct e2e_result r;

	e2e_require_file(COUNTER);
	e2e_spawn(&spec, &r);
	assert_exit(&r, 0);
	assert_contains(r.out, "embed: plugin " COUNTER "\n", &r);
	assert_contains(r.out, "doorbell: write offset 0x0 size 8 <- 42\n", &r);
	assert_contains(r.out, "embed: counter 'counter0': 1 read(s), 2 write(s)\n", &r);
}

Test(embed, guest_sums_in_the_counter_plugin_and_rings_with_42_on_emu)
{
	check_embed_counter("emu");
}

Test(embed, guest_sums_in_the_counter_plugin_and_rings_with_42_on_kvm)
{
	e2e_require_kvm();
	check_embed_counter("kvm");
}

Test(embed, plugin_not_found_fails_naming_it)
{
	const char *argv[] = {EMBED, "emu", "no-such-plugin", NULL};
	struct e2e_spawn spec = {.argv = argv};
	struct e2e_result r;

	e2e_spawn(&spec, &r);
	assert_exit(&r, 1);
	assert_contains(r.err, "embed: no-such-plugin: ", &r);
}

Test(embed, unknown_backend_is_a_usage_error)
{
	const char *argv[] = {EMBED, "qemu", NULL};
	struct e2e_spawn spec = {.argv = argv};
	struct e2e_result r;

	e2e_spawn(&spec, &r);
	cr_assert(r.exited && r.status == 2, "expected exit 2: %s", e2e_describe(&r));
	cr_assert(strstr(r.err, "usage:"), "no usage line: %s", e2e_describe(&r));
}
