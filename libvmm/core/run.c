/* run.c - running the whole VM: one thread per vCPU, stop and abort, and which exit describes the run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

struct runner {
	struct vmm_vcpu *vcpu;
	struct vmm_exit exit;
	int ret;
	pthread_t thread;
	bool started;
	struct run_state *rs;
	unsigned long order; /* when it finished, for "first fatal exit" */
};

struct run_state {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned remaining;
	unsigned long finished;
};

static void *runner_main(void *arg)
{
	struct runner *r = arg;
	struct vmm_vm *vm = r->vcpu->vm;
	bool locked;

	r->ret = vmm_vcpu_run(r->vcpu, &r->exit);
	/* A halted vCPU waits quietly; anything else ends the VM for everyone. */
	if (r->exit.reason != VMM_EXIT_HLT && r->exit.reason != VMM_EXIT_STOPPED)
		vmmi_vm_abort(vm);
	/* Counted even if the lock fails: vmm_vm_run() waits for remaining to fall. */
	locked = VMMI_PT_LOG(vm, pthread_mutex_lock(&r->rs->lock), "vmm_vm_run") == 0;
	r->order = ++r->rs->finished;
	r->rs->remaining--;
	VMMI_PT_LOG(vm, pthread_cond_signal(&r->rs->cond), "vmm_vm_run");
	if (locked)
		VMMI_PT_LOG(vm, pthread_mutex_unlock(&r->rs->lock), "vmm_vm_run");
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

int vmm_vm_run(struct vmm_vm *vm, struct vmm_exit *exit)
{
	struct run_state rs = { .remaining = 0 };
	struct runner *runners, *res;
	int ret = 0, stop;
	unsigned n;

	if (!vm || !exit)
		return vmmi_error(-EINVAL, "vmm_vm_run: NULL argument");
	memset(exit, 0, sizeof(*exit));
	n = vm->nvcpus;
	if (!vmm_vcpu_count(vm))
		return vmmi_error(-EINVAL, "vmm_vm_run: the VM has no vCPUs");
	runners = calloc(n, sizeof(*runners));
	if (!runners)
		return vmmi_error(-ENOMEM, "vmm_vm_run: out of memory");
	ret = VMMI_PT(pthread_mutex_init(&rs.lock, NULL), "vmm_vm_run");
	if (ret < 0)
		goto err_free;
	ret = vmmi_cond_init_monotonic(&rs.cond, "vmm_vm_run");
	if (ret < 0)
		goto err_lock;
	ret = VMMI_PT(pthread_mutex_lock(&rs.lock), "vmm_vm_run");
	if (ret < 0)
		goto err_cond;
	for (unsigned i = 0; i < n; i++) {
		int err;

		if (!vm->vcpus[i])
			continue;
		runners[i].vcpu = vm->vcpus[i];
		runners[i].rs = &rs;
		err = pthread_create(&runners[i].thread, NULL, runner_main, &runners[i]);
		if (err) {
			ret = vmmi_error(-err, "vmm_vm_run: cannot create a thread for vCPU %u: %s", i,
					 strerror(err));
			vmmi_vm_abort(vm);
			break;
		}
		runners[i].started = true;
		rs.remaining++;
	}
	while (rs.remaining) {
		int err;

		if (atomic_load(&vm->stop_requested)) {
			/*
			 * A kick can be lost if it lands just before a vCPU enters the
			 * guest (emu cannot close that window); keep kicking until all
			 * vCPUs are out.
			 */
			struct timespec ts;

			VMMI_PT_LOG(vm, pthread_mutex_unlock(&rs.lock), "vmm_vm_run");
			kick_all(vm);
			VMMI_PT_LOG(vm, pthread_mutex_lock(&rs.lock), "vmm_vm_run");
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += 10 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			err = pthread_cond_timedwait(&rs.cond, &rs.lock, &ts);
			if (err && err != ETIMEDOUT)
				vmmi_pthread_failed(vm, err, "pthread_cond_timedwait", "vmm_vm_run");
		} else if (VMMI_PT_LOG(vm, pthread_cond_wait(&rs.cond, &rs.lock), "vmm_vm_run") < 0) {
			/* Poll instead: the runners count down whatever the lock does. */
			vmmi_vm_abort(vm);
		}
	}
	VMMI_PT_LOG(vm, pthread_mutex_unlock(&rs.lock), "vmm_vm_run");
	for (unsigned i = 0; i < n; i++)
		if (runners[i].started)
			VMMI_PT_LOG(vm, pthread_join(runners[i].thread, NULL), "vmm_vm_run");

	stop = atomic_load(&vm->stop_requested);
	res = pick_result(runners, n, stop);
	if (res) {
		*exit = res->exit;
		if (ret == 0)
			ret = res->ret;
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
err_cond:
	VMMI_PT_LOG(vm, pthread_cond_destroy(&rs.cond), "vmm_vm_run");
err_lock:
	VMMI_PT_LOG(vm, pthread_mutex_destroy(&rs.lock), "vmm_vm_run");
err_free:
	free(runners);
	if (ret < 0 && exit->reason == VMM_EXIT_NONE)
		vmmi_exit_set(exit, VMM_EXIT_ERROR, "%s", vmm_last_error());
	return ret;
}
