/* SPDX-License-Identifier: MIT */
/* test_hello_guest.c - end-to-end tests of the guest kit through examples/hello-guest. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "e2e.h"

#define HELLO_ELF BUILD_DIR "/examples/hello-guest/hello.elf"
#define HELLO_INI SRC_DIR "/examples/hello-guest/hello.ini"

/* What hello.elf prints with hello.ini as shipped: its greeting and what the boot info said. */
#define HELLO_OUT                                                                                  \
	"hello from the guest\n"                                                                   \
	"vcpus: 1\n"                                                                               \
	"ram: 16 MiB\n"                                                                            \
	"device: test0 (testdev) at address 0xfebf0000\n"                                          \
	"device: uart0 (uart16550) at port 0x3f8\n"

TestSuite(hello_guest, .fini = e2e_cleanup);

/* hello.ini as shipped, its text until e2e_cleanup(). */
static char *shipped_ini(void)
{
	static char text[4096];
	FILE *f = fopen(HELLO_INI, "r");
	size_t n;

	cr_assert_not_null(f, "%s: %s", HELLO_INI, strerror(errno));
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	cr_assert(n > 0 && n < sizeof(text) - 1, "%s: empty or too long", HELLO_INI);
	text[n] = '\0';
	return text;
}

/*
 * Write ini beside a link to the built hello.elf, as hello.ini sits beside
 * hello.elf out of tree (its firmware path is relative), and run it.
 */
static void run_hello(struct e2e_result *r, const char *accel, const char *ini)
{
	const char *elf = e2e_strf("%s/hello.elf", e2e_tmpdir());
	const char *path;

	e2e_require_file(HELLO_ELF);
	cr_assert(symlink(HELLO_ELF, elf) == 0 || errno == EEXIST, "symlink %s: %s", elf,
		  strerror(errno));
	path = e2e_write_file("hello.ini", "%s", ini);
	e2e_vmm_run(r, accel, path, NULL);
}

/* The shipped ini with text inserted right after its "[vm]" line. */
static const char *ini_with_vm_key(const char *key)
{
	char *ini = shipped_ini(), *vm = strstr(ini, "[vm]\n");

	cr_assert_not_null(vm, "%s has no [vm] line", HELLO_INI);
	vm += strlen("[vm]\n");
	return e2e_strf("%.*s%s%s", (int)(vm - ini), ini, key, vm);
}

static void greets_and_exits_0(const char *accel)
{
	struct e2e_result r;

	run_hello(&r, accel, shipped_ini());
	assert_exit(&r, 0);
	cr_assert_str_eq(r.out, HELLO_OUT, "%s", e2e_describe(&r));
	cr_assert_str_empty(r.err, "a clean run says nothing on stderr: %s", e2e_describe(&r));
}

Test(hello_guest, greets_and_exits_0_through_the_testdev_on_emu)
{
	greets_and_exits_0("--accel=emu");
}

Test(hello_guest, greets_and_exits_0_through_the_testdev_on_kvm)
{
	e2e_require_kvm();
	greets_and_exits_0("--accel=kvm");
}

/* Every vCPU enters vmm_guest_main(); the others return and halt, vCPU 0's return ends the VM. */
static void secondary_vcpus_halt_and_vcpu0_exits(const char *accel)
{
	struct e2e_result r;

	run_hello(&r, accel, ini_with_vm_key("vcpus = 4\n"));
	assert_exit(&r, 0);
	cr_assert_eq(e2e_count_lines(r.out, "hello from the guest"), 1,
		     "one greeting, from vCPU 0: %s", e2e_describe(&r));
	cr_assert(e2e_has_line(r.out, "vcpus: 4"), "%s", e2e_describe(&r));
}

Test(hello_guest, secondary_vcpus_halt_and_vcpu0_exits_on_emu)
{
	secondary_vcpus_halt_and_vcpu0_exits("--accel=emu");
}

Test(hello_guest, secondary_vcpus_halt_and_vcpu0_exits_on_kvm)
{
	e2e_require_kvm();
	secondary_vcpus_halt_and_vcpu0_exits("--accel=kvm");
}

/* Without a testdev there is nowhere to write the exit code: vmm_guest_exit() halts instead. */
Test(hello_guest, without_a_testdev_returning_halts_the_vcpu)
{
	char *ini = shipped_ini(), *td = strstr(ini, "[device \"test0\"]");
	struct e2e_result r;

	cr_assert_not_null(td, "%s has no test0 device", HELLO_INI);
	*td = '\0';
	run_hello(&r, "--accel=emu", ini);
	assert_exit(&r, 125);
	assert_contains(r.out, "hello from the guest\n", &r);
	assert_contains(r.err, "guest halted without an exit code", &r);
}
