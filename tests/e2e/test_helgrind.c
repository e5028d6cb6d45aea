/* SPDX-License-Identifier: MIT */
/*
 * test_helgrind.c - vmm-run's lock discipline, checked
 * by helgrind: a plugin whose create() uses DMA.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"

TestSuite(helgrind, .fini = e2e_cleanup, .timeout = 300);

static const uint8_t hlt_code[] = {0xf4}; /* hlt with interrupts off: ends the run, 125 */

/*
 * DMA from create() once took the layout lock for reading while
 * vmm_device_add() held it for writing, then released the writer's lock:
 * helgrind said "pthread_rwlock_rdlock failed" and "unlocked a not-locked lock".
 */
Test(helgrind, vmm_run_with_a_plugin_whose_create_uses_dma_has_no_lock_errors)
{
	const char *fw = e2e_write_elf("hlt.elf", hlt_code, sizeof(hlt_code));
	const char *cfg = e2e_guest_config("dma.ini", fw, "emu", "120s",
					   "\n[device \"dma0\"]\nplugin = " BUILD_DIR
					   "/tests/plugins/dma-create.so\n"
					   "mmio = 0xfebf0000\nsize = 0x1000\ngpa = 0x2000\n");
	const char *argv[] = {
	    "/usr/bin/valgrind", "--tool=helgrind", "--error-exitcode=99", E2E_VMM_RUN, cfg, NULL};
	struct e2e_spawn spec = {.argv = argv, .limit_s = 280};
	struct e2e_result r;

	if (access(argv[0], X_OK))
		cr_skip_test("valgrind is not installed (Debian package: valgrind)");
	e2e_require_file(BUILD_DIR "/tests/plugins/dma-create.so");
	e2e_spawn(&spec, &r);
	cr_assert(r.exited && r.status == 125, "expected exit 125 (halted), no helgrind error: %s",
		  e2e_describe(&r));
	cr_assert(!strstr(r.err, "Possible data race") && !strstr(r.err, "unlocked a not-locked"),
		  "%s", e2e_describe(&r));
}
