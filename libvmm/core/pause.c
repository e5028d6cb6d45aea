/* SPDX-License-Identifier: MIT */
/*
 * pause.c - the pause protocol: layout changes while
 * vCPUs run, and the readers of guest memory beside them.
 */
#include <string.h>

#include "vmm_internal.h"

__thread const struct vmm_vm *vmmi_running_vm;

/*
 * The VM whose layout this thread is changing (it holds mem_lock for
 * writing), if any: the log function it calls meanwhile must not take the
 * lock again, for reading or writing.
 */
static __thread const struct vmm_vm *tls_changing_vm;

/* mem_lock is the VM's internal state, not what const promises about the guest. */
static pthread_rwlock_t *mem_lock(const struct vmm_vm *vm)
{
	return (pthread_rwlock_t *)&vm->mem_lock;
}

int vmmi_mem_read_begin(const struct vmm_vm *vm, const char *what)
{
	int err;

	if (tls_changing_vm == vm)
		return vmmi_error(
		    -EDEADLK,
		    "%s: called while this thread changes the VM's layout (from the log "
		    "function?): guest memory is not readable until the change ends",
		    what);
	err = pthread_rwlock_rdlock(mem_lock(vm));
	if (err)
		return vmmi_error(-err, "%s: cannot lock the memory layout: %s", what,
				  strerror(err));
	return 0;
}

int vmmi_mem_read_end(const struct vmm_vm *vm, const char *what)
{
	int err = pthread_rwlock_unlock(mem_lock(vm));

	return err ? vmmi_error(-err, "%s: cannot unlock the memory layout: %s", what,
				strerror(err))
		   : 0;
}

static void resume_vcpus(struct vmm_vm *vm, const char *what);

int vmmi_change_begin(struct vmm_vm *vm, const char *what)
{
	int ret;

	if (vmmi_running_vm == vm)
		return vmmi_error(
		    -EDEADLK,
		    "%s: called on a vCPU thread of this VM while it runs (a device "
		    "callback?): the vCPU could never pause; make the change from another thread",
		    what);
	if (tls_changing_vm == vm)
		return vmmi_error(
		    -EDEADLK,
		    "%s: called while this thread changes the VM's layout (from the log "
		    "function?): make the change once the first one has returned",
		    what);
	ret = VMMI_PT(pthread_mutex_lock(&vm->change_lock), what);
	if (ret < 0)
		return ret;
	ret = VMMI_PT(pthread_mutex_lock(&vm->run_lock), what);
	if (ret < 0)
		goto err_change;
	vm->pausing = true;
	atomic_store(&vm->pause_req, true);
	if (vm->active) {
		/*
		 * One kick each, never lost (struct vmmi_backend_ops.kick): every
		 * vCPU inside run() comes out, and the last one out wakes us
		 * (vmm_vcpu_run()). None goes in while pausing is set. A stop or
		 * an abort meanwhile ends runs too, through the same wakeup.
		 */
		VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->run_lock), what);
		for (unsigned i = 0; i < vm->nvcpus; i++)
			if (vm->vcpus[i])
				vmmi_vcpu_kick(vm->vcpus[i]);
		ret = VMMI_PT(pthread_mutex_lock(&vm->run_lock), what);
		if (ret < 0)
			goto err_resume;
	}
	while (vm->active) {
		ret = VMMI_PT(pthread_cond_wait(&vm->run_cond, &vm->run_lock), what);
		if (ret < 0) {
			VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->run_lock), what);
			goto err_resume;
		}
	}
	VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->run_lock), what);
	ret = VMMI_PT(pthread_rwlock_wrlock(&vm->mem_lock), what);
	if (ret < 0)
		goto err_resume;
	tls_changing_vm = vm;
	vm->layout_gen++;
	return 0;

err_resume:
	resume_vcpus(vm, what);
err_change:
	VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->change_lock), what);
	return ret;
}

/* Let paused vCPUs go on (run_lock not held). */
static void resume_vcpus(struct vmm_vm *vm, const char *what)
{
	int ret = VMMI_PT_LOG(vm, pthread_mutex_lock(&vm->run_lock), what);

	/* Without the lock too: vCPUs must not wait for a change that is over. */
	vm->pausing = false;
	atomic_store(&vm->pause_req, false);
	VMMI_PT_LOG(vm, pthread_cond_broadcast(&vm->run_cond), what);
	if (ret == 0)
		VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->run_lock), what);
}

void vmmi_change_end(struct vmm_vm *vm)
{
	const char *what = "the end of a layout change";

	tls_changing_vm = NULL;
	VMMI_PT_LOG(vm, pthread_rwlock_unlock(&vm->mem_lock), what);
	resume_vcpus(vm, what);
	VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->change_lock), what);
}
