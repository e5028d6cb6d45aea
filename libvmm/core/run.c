/* SPDX-License-Identifier: MIT */
/*
 * run.c - running the whole VM: one thread per vCPU,
 * stop and abort, and which exit describes the run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_internal.h"

static void kick_all(struct vmm_vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i])
			vmmi_vcpu_kick(vm->vcpus[i]);
}

void vmm_vm_stop(struct vmm_vm *vm, int exit_code)
{
	bool locked;

	if (!vm)
		return;
	/* Without the lock too: a stop must never be lost. */
	locked = VMMI_PT_LOG(vm, pthread_mutex_lock(&vm->stop_lock), "vmm_vm_stop") == 0;
	if (atomic_load(&vm->stop_requested) != VMMI_STOP_GUEST) {
		/* A guest stop also wins over an abort already under way: it carries a code. */
		vm->exit_code = exit_code;
		atomic_store(&vm->stop_requested, VMMI_STOP_GUEST);
	}
	if (locked)
		VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->stop_lock), "vmm_vm_stop");
	kick_all(vm);
}

void vmmi_vm_abort(struct vmm_vm *vm)
{
	bool locked = VMMI_PT_LOG(vm, pthread_mutex_lock(&vm->stop_lock), "abort") == 0;

	if (atomic_load(&vm->stop_requested) == 0)
		atomic_store(&vm->stop_requested, VMMI_STOP_ABORT);
	if (locked)
		VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->stop_lock), "abort");
	kick_all(vm);
}

void vmmi_vm_reset_request(struct vmm_vm *vm)
{
	bool locked = VMMI_PT_LOG(vm, pthread_mutex_lock(&vm->stop_lock), "reset") == 0;

	if (atomic_load(&vm->stop_requested) != VMMI_STOP_GUEST) {
		vm->exit_code = 0;
		vm->reset_requested = true;
		atomic_store(&vm->stop_requested, VMMI_STOP_GUEST);
	}
	if (locked)
		VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->stop_lock), "reset");
	kick_all(vm);
}

struct runner {
	struct vmm_vcpu *vcpu;
	struct vmm_exit exit;
	int ret;
	pthread_t thread;
	bool started;
	atomic_ulong *finished; /* runners that have finished so far */
	unsigned long order;	/* when it finished, for "first fatal exit" */
	/* vmm_last_error() of this thread when ret < 0: the caller's thread reports it. */
	char error[VMMI_ERROR_MAX];
};

static void *runner_main(void *arg)
{
	struct runner *r = arg;

	r->exit.size = sizeof(r->exit);
	r->ret = vmm_vcpu_run(r->vcpu, &r->exit);
	if (r->ret < 0)
		snprintf(r->error, sizeof(r->error), "%s", vmm_last_error());
	/* A halted vCPU waits quietly; anything else ends the VM for everyone. */
	if (r->exit.reason != VMM_EXIT_HLT && r->exit.reason != VMM_EXIT_STOPPED)
		vmmi_vm_abort(r->vcpu->vm);
	r->order = atomic_fetch_add(r->finished, 1) + 1;
	return NULL;
}

/* Which exit describes the VM: a guest stop, else the first fatal exit, else the first halt. */
static struct runner *pick_result(struct runner *r, unsigned n, int stop)
{
	struct runner *fatal = NULL, *stopped = NULL, *first = NULL;

	for (unsigned i = 0; i < n; i++) {
		enum vmm_exit_reason reason = r[i].exit.reason;

		if (!r[i].started)
			continue;
		if (!first)
			first = &r[i];
		if (reason == VMM_EXIT_STOPPED && r[i].ret == 0) {
			if (!stopped)
				stopped = &r[i];
		} else if (reason != VMM_EXIT_HLT || r[i].ret < 0) {
			if (!fatal || r[i].order < fatal->order)
				fatal = &r[i];
		}
	}
	if (stop == VMMI_STOP_GUEST && stopped)
		return stopped;
	if (fatal)
		return fatal;
	return stopped ? stopped : first;
}

/* vmm_vm_run() into exit, a complete struct of this version. */
static int vm_run(struct vmm_vm *vm, struct vmm_exit *exit)
{
	atomic_ulong finished = 0;
	struct runner *runners, *res;
	int ret = 0, stop;
	unsigned n;

	memset(exit, 0, sizeof(*exit));
	n = vm->nvcpus;
	if (!vmm_vcpu_count(vm))
		return vmmi_error(-EINVAL, "vmm_vm_run: the VM has no vCPUs");
	runners = calloc(n, sizeof(*runners));
	if (!runners)
		return vmmi_error(-ENOMEM, "vmm_vm_run: out of memory");
	for (unsigned i = 0; i < n; i++) {
		int err;

		if (!vm->vcpus[i])
			continue;
		runners[i].vcpu = vm->vcpus[i];
		runners[i].finished = &finished;
		err = pthread_create(&runners[i].thread, NULL, runner_main, &runners[i]);
		if (err) {
			ret = vmmi_error(-err, "vmm_vm_run: cannot create a thread for vCPU %u: %s",
					 i, strerror(err));
			vmmi_vm_abort(vm);
			break;
		}
		runners[i].started = true;
	}
	/*
	 * Each runner ends by itself: at a halt, at a fatal exit (which aborts
	 * the others), or at a stop or abort, whose one kick per vCPU is never
	 * lost (struct vmmi_backend_ops.kick). So waiting for the threads to
	 * end is all there is to do: no kicking again, no timed wait.
	 */
	for (unsigned i = 0; i < n; i++)
		if (runners[i].started)
			VMMI_PT_LOG(vm, pthread_join(runners[i].thread, NULL), "vmm_vm_run");

	stop = atomic_load(&vm->stop_requested);
	res = pick_result(runners, n, stop);
	if (res) {
		*exit = res->exit;
		/* The last error is per thread: carry the runner's to the caller's. */
		if (ret == 0 && res->ret < 0)
			ret = vmmi_error(res->ret, "%s", res->error);
	} else {
		memset(exit, 0, sizeof(*exit));
		vmmi_exit_set(exit, VMM_EXIT_ERROR, "%s", vmm_last_error());
	}
	/* An abort ends this run only; a guest stop stays (the VM is stopped). */
	if (VMMI_PT_LOG(vm, pthread_mutex_lock(&vm->stop_lock), "vmm_vm_run") == 0) {
		if (atomic_load(&vm->stop_requested) == VMMI_STOP_ABORT)
			atomic_store(&vm->stop_requested, 0);
		VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->stop_lock), "vmm_vm_run");
	}
	free(runners);
	if (ret < 0 && exit->reason == VMM_EXIT_NONE)
		vmmi_exit_set(exit, VMM_EXIT_ERROR, "%s", vmm_last_error());
	return ret;
}

int vmm_vm_run(struct vmm_vm *vm, struct vmm_exit *exit)
{
	struct vmm_exit ex = {.size = sizeof(ex)};
	int ret;

	if (!vm || !exit)
		return vmmi_error(-EINVAL, "vmm_vm_run: NULL argument");
	ret = vmmi_size_check(exit->size, VMMI_SIZE_MIN(struct vmm_exit, reason),
			      "vmm_vm_run: exit", "vmm_exit");
	if (ret < 0)
		return ret;
	ret = vm_run(vm, &ex);
	vmmi_size_copy_out(exit, exit->size, &ex, sizeof(ex));
	return ret;
}
