/* SPDX-License-Identifier: MIT */
/* vm.c - VM lifecycle: options, create and destroy, the log sink, stats. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_internal.h"

const char *vmm_version(void)
{
	return VMM_VERSION_STRING;
}

void vmm_vm_options_init(struct vmm_vm_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->size = sizeof(*opts);
	opts->accel = VMM_ACCEL_AUTO;
	opts->unclaimed = VMM_UNCLAIMED_IGNORE;
	opts->log_level = VMM_LOG_WARN;
}

void vmmi_log(const struct vmm_vm *vm, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!vmmi_log_enabled(vm, level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vm->opts.log(vm->opts.log_opaque, level, msg);
}

static int vm_locks_init(struct vmm_vm *vm)
{
	const char *what = "vmm_vm_create";
	int ret;

	ret = VMMI_PT(pthread_mutex_init(&vm->stop_lock, NULL), what);
	if (ret < 0)
		return ret;
	ret = VMMI_PT(pthread_mutex_init(&vm->change_lock, NULL), what);
	if (ret < 0)
		goto err_stop;
	ret = VMMI_PT(pthread_mutex_init(&vm->run_lock, NULL), what);
	if (ret < 0)
		goto err_change;
	ret = VMMI_PT(pthread_cond_init(&vm->run_cond, NULL), what);
	if (ret < 0)
		goto err_run;
	ret = VMMI_PT(pthread_rwlock_init(&vm->mem_lock, NULL), what);
	if (ret < 0)
		goto err_cond;
	return 0;

err_cond:
	VMMI_PT_LOG(NULL, pthread_cond_destroy(&vm->run_cond), what);
err_run:
	VMMI_PT_LOG(NULL, pthread_mutex_destroy(&vm->run_lock), what);
err_change:
	VMMI_PT_LOG(NULL, pthread_mutex_destroy(&vm->change_lock), what);
err_stop:
	VMMI_PT_LOG(NULL, pthread_mutex_destroy(&vm->stop_lock), what);
	return ret;
}

static void vm_locks_destroy(struct vmm_vm *vm)
{
	const char *what = "vmm_vm_destroy";

	VMMI_PT_LOG(vm, pthread_mutex_destroy(&vm->stop_lock), what);
	VMMI_PT_LOG(vm, pthread_mutex_destroy(&vm->change_lock), what);
	VMMI_PT_LOG(vm, pthread_mutex_destroy(&vm->run_lock), what);
	VMMI_PT_LOG(vm, pthread_cond_destroy(&vm->run_cond), what);
	VMMI_PT_LOG(vm, pthread_rwlock_destroy(&vm->mem_lock), what);
}

/*
 * The kick signal: 0 picks the default. Only signals nothing else in the
 * process is likely to need: SIGUSR1/2 and the real-time ones (glibc keeps
 * the first few of those below SIGRTMIN for itself).
 */
static int kick_signal_check(int *sig)
{
	if (*sig == 0)
		*sig = SIGRTMIN + 6;
	if (*sig == SIGUSR1 || *sig == SIGUSR2 || (*sig >= SIGRTMIN && *sig <= SIGRTMAX))
		return 0;
	return vmmi_error(
	    -EINVAL,
	    "vmm_vm_create: kick_signal %d is not SIGUSR1, SIGUSR2 or SIGRTMIN..SIGRTMAX (%d..%d)",
	    *sig, SIGRTMIN, SIGRTMAX);
}

int vmm_vm_create(const struct vmm_vm_options *opts, struct vmm_vm **out)
{
	struct vmm_vm *vm;
	int ret;

	if (!out)
		return vmmi_error(-EINVAL, "vmm_vm_create: out is NULL");
	*out = NULL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return vmmi_error(-ENOMEM, "vmm_vm_create: out of memory");
	vmm_vm_options_init(&vm->opts);
	if (opts) {
		/* Read only what the caller's version of the struct has. */
		size_t n = opts->size < sizeof(vm->opts) ? opts->size : sizeof(vm->opts);

		if (n < offsetof(struct vmm_vm_options, accel) + sizeof(opts->accel)) {
			free(vm);
			return vmmi_error(-EINVAL, "vmm_vm_create: opts->size %zu is too small",
					  opts->size);
		}
		memcpy(&vm->opts, opts, n);
		vm->opts.size = sizeof(vm->opts);
	}
	ret = kick_signal_check(&vm->opts.kick_signal);
	if (ret < 0) {
		free(vm);
		return ret;
	}
	ret = vm_locks_init(vm);
	if (ret < 0) {
		free(vm);
		return ret;
	}
	vm->slots.max = VMM_MEMSLOT_MAX;
	vm->layout_gen = 1; /* a vCPU's empty window cache (generation 0) never matches */

	ret = vmmi_backend_choose(vm->opts.accel, &vm->backend, vm->accel_reason,
				  sizeof(vm->accel_reason));
	if (ret < 0)
		goto err_free;
	vm->ops = vm->backend->ops;
	ret = vm->ops->vm_init(vm);
	if (ret < 0)
		goto err_free;
	vmmi_log(vm, VMM_LOG_INFO, "backend %s (%s)", vm->backend->name, vm->accel_reason);
	ret = vmmi_irq_init(vm);
	if (ret < 0) {
		vmmi_devices_destroy(vm);
		vmmi_bus_free(&vm->bus[0]);
		vmmi_irq_fini(vm);
		vm->ops->vm_fini(vm);
		goto err_free;
	}
	*out = vm;
	return 0;

err_free:
	vm_locks_destroy(vm);
	free(vm);
	return ret;
}

void vmm_vm_destroy(struct vmm_vm *vm)
{
	if (!vm)
		return;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i]) {
			vm->ops->vcpu_fini(vm->vcpus[i]);
			VMMI_PT_LOG(vm, pthread_mutex_destroy(&vm->vcpus[i]->kick_lock),
				    "vmm_vm_destroy");
			free(vm->vcpus[i]);
			vm->vcpus[i] = NULL; /* the slot_remove()s below must not see them */
		}
	}
	vm->nvcpus = 0;
	vmmi_devices_destroy(vm);
	/* The windows name freed devices now: nothing below may look at them. */
	vmmi_bus_free(&vm->bus[0]);
	vmmi_bus_free(&vm->bus[1]);
	while (vm->slots.n) {
		struct vmmi_slot s = vm->slots.slots[vm->slots.n - 1];

		vm->ops->slot_remove(vm, &s);
		if (vmmi_slots_remove(&vm->slots, s.gpa, NULL) == 0)
			vmmi_slot_release(&s);
	}
	vmmi_slots_free(&vm->slots);
	vmmi_irq_fini(vm);
	vm->ops->vm_fini(vm);
	vmmi_loaded_free(vm);
	vmmi_linux_free(&vm->lx);
	vm_locks_destroy(vm);
	free(vm);
}

int vmm_vm_get_stats(const struct vmm_vm *vm, struct vmm_vm_stats *stats)
{
	struct vmm_vm_stats st = {.size = sizeof(st)};
	int ret;

	if (!vm || !stats)
		return vmmi_error(-EINVAL, "vmm_vm_get_stats: NULL argument");
	ret = vmmi_size_check(stats->size, VMMI_SIZE_MIN(struct vmm_vm_stats, exits),
			      "vmm_vm_get_stats: stats", "vmm_vm_stats");
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		const struct vmm_vcpu *v = vm->vcpus[i];

		if (!v)
			continue;
		st.exits += atomic_load_explicit(&v->exits, memory_order_relaxed);
		st.mmio_exits += atomic_load_explicit(&v->mmio_exits, memory_order_relaxed);
		st.pio_exits += atomic_load_explicit(&v->pio_exits, memory_order_relaxed);
		st.unclaimed += atomic_load_explicit(&v->unclaimed, memory_order_relaxed);
	}
	vmmi_size_copy_out(stats, stats->size, &st, sizeof(st));
	return 0;
}
