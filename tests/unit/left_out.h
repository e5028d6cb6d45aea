/* SPDX-License-Identifier: MIT */
/* left_out.h - the unit tests' view of backends a build left out (see left_out.c). */
#ifndef TESTS_UNIT_LEFT_OUT_H
#define TESTS_UNIT_LEFT_OUT_H

#include "vmm/vmm.h"

/* What vmm_last_error() says when a backend asked for is not in this build. */
#define LEFT_OUT_TEXT " is not built in (./configure --disable-"

/* The library's own vmm_vm_create(), without the skip (-Wl,--wrap=vmm_vm_create). */
int __real_vmm_vm_create(const struct vmm_vm_options *opts, struct vmm_vm **out);
int __wrap_vmm_vm_create(const struct vmm_vm_options *opts, struct vmm_vm **out);

#endif
