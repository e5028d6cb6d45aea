/* SPDX-License-Identifier: MIT */
/*
 * test_pthread_failures.c - specification: a pthread call that
 * fails inside libvmm is an error the caller sees, never ignored.
 */
#include <criterion/criterion.h>

#include "unit.h"
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "vmm/vmm.h"

/*
 * The test binary links libvmm.a statically, so these definitions stand in
 * for the C library's in libvmm's calls (and anyone else's: unset, they
 * pass every call through). Set, the next call fails with that errno.
 */
static int fail_rwlock_init, fail_rwlock_rdlock;

int pthread_rwlock_init(pthread_rwlock_t *restrict l, const pthread_rwlockattr_t *restrict a)
{
	int (*real)(pthread_rwlock_t *, const pthread_rwlockattr_t *);
	int err = fail_rwlock_init;

	if (err) {
		fail_rwlock_init = 0;
		return err;
	}
	*(void **)&real = dlsym(RTLD_NEXT, "pthread_rwlock_init");
	return real(l, a);
}

int pthread_rwlock_rdlock(pthread_rwlock_t *l)
{
	int (*real)(pthread_rwlock_t *);
	int err = fail_rwlock_rdlock;

	if (err) {
		fail_rwlock_rdlock = 0;
		return err;
	}
	*(void **)&real = dlsym(RTLD_NEXT, "pthread_rwlock_rdlock");
	return real(l);
}

static struct vmm_vm *vm;

static void teardown(void)
{
	fail_rwlock_init = fail_rwlock_rdlock = 0;
	vmm_vm_destroy(vm);
	vm = NULL;
}

TestSuite(pthread_failures, .fini = teardown);

static void emu_vm(void)
{
	struct vmm_vm_options opts;

	vmm_vm_options_init(&opts);
	opts.accel = VMM_ACCEL_EMU;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "ram", 0, 0x10000, NULL));
}

Test(pthread_failures, a_vm_whose_lock_cannot_be_made_is_not_created)
{
	struct vmm_vm_options opts;
	int ret;

	vmm_vm_options_init(&opts);
	opts.accel = VMM_ACCEL_EMU;
	vm = (struct vmm_vm *)&opts; /* must be cleared */
	fail_rwlock_init = EAGAIN;
	ret = vmm_vm_create(&opts, &vm);
	cr_assert_eq(ret, -EAGAIN, "got %d: %s", ret, vmm_last_error());
	cr_assert_null(vm);
	cr_assert(strstr(vmm_last_error(), "pthread_rwlock_init"), "%s", vmm_last_error());
}

Test(pthread_failures, a_guest_read_that_cannot_lock_the_layout_fails_and_says_why)
{
	uint64_t v = 0x1234;
	int ret;

	emu_vm();
	fail_rwlock_rdlock = EAGAIN;
	ret = vmm_guest_read(vm, 0x100, &v, sizeof(v));
	cr_assert_eq(ret, -EAGAIN, "got %d: %s", ret, vmm_last_error());
	cr_assert(strstr(vmm_last_error(), "vmm_guest_read"), "%s", vmm_last_error());
	cr_assert_eq(v, 0x1234, "nothing copied");
	OK(vmm_guest_read(vm, 0x100, &v, sizeof(v)));
}

Test(pthread_failures, a_translation_that_cannot_lock_the_layout_fails)
{
	struct vmm_translation t = {.size = sizeof(t)};
	int ret;

	emu_vm();
	fail_rwlock_rdlock = EAGAIN;
	ret = vmm_translate(vm, 0x100, &t);
	cr_assert_eq(ret, -EAGAIN, "got %d: %s", ret, vmm_last_error());
	OK(vmm_translate(vm, 0x100, &t));
}
