/* SPDX-License-Identifier: MIT */
/* vcpu.c - vCPUs: create, registers, kicks, and vmm_vcpu_run() around the backend's run loop. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_internal.h"

int vmm_vcpu_create(struct vmm_vm *vm, unsigned index, struct vmm_vcpu **out)
{
	struct vmm_vcpu *vcpu;
	int ret;

	if (!vm)
		return vmmi_error(-EINVAL, "vmm_vcpu_create: vm is NULL");
	if (vmmi_vm_running(vm))
		return vmmi_error(-EBUSY, "vmm_vcpu_create: the VM is running");
	if (index >= VMM_GUEST_MAX_VCPUS)
		return vmmi_error(-EINVAL, "vCPU index %u is out of range (at most %u vCPUs)",
				  index, VMM_GUEST_MAX_VCPUS);
	if (vm->vcpus[index])
		return vmmi_error(-EEXIST, "vCPU %u already exists", index);
	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return vmmi_error(-ENOMEM, "vCPU %u: out of memory", index);
	vcpu->vm = vm;
	vcpu->index = index;
	ret = pthread_mutex_init(&vcpu->kick_lock, NULL);
	if (ret) {
		free(vcpu);
		return vmmi_error(-ret, "vCPU %u: pthread_mutex_init: %s", index, strerror(ret));
	}
	ret = vm->ops->vcpu_init(vcpu);
	if (ret < 0) {
		VMMI_PT_LOG(vm, pthread_mutex_destroy(&vcpu->kick_lock), "vmm_vcpu_create");
		free(vcpu);
		return ret;
	}
	vm->vcpus[index] = vcpu;
	if (index >= vm->nvcpus)
		vm->nvcpus = index + 1;
	if (out)
		*out = vcpu;
	return 0;
}

int vmm_vcpu_count(const struct vmm_vm *vm)
{
	int n = 0;

	if (!vm)
		return -EINVAL;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		n += vm->vcpus[i] != NULL;
	return n;
}

struct vmm_vcpu *vmm_vcpu_get(const struct vmm_vm *vm, unsigned index)
{
	return vm && index < vm->nvcpus ? vm->vcpus[index] : NULL;
}

int vmm_vcpu_get_regs(struct vmm_vcpu *vcpu, struct vmm_regs *regs)
{
	if (!vcpu || !regs)
		return vmmi_error(-EINVAL, "vmm_vcpu_get_regs: NULL argument");
	return vcpu->vm->ops->get_regs(vcpu, regs);
}

int vmm_vcpu_set_regs(struct vmm_vcpu *vcpu, const struct vmm_regs *regs)
{
	if (!vcpu || !regs)
		return vmmi_error(-EINVAL, "vmm_vcpu_set_regs: NULL argument");
	if (atomic_load(&vcpu->in_run))
		return vmmi_error(-EBUSY, "vCPU %u is running", vcpu->index);
	return vcpu->vm->ops->set_regs(vcpu, regs);
}

int vmm_vcpu_get_sregs(struct vmm_vcpu *vcpu, struct vmm_sregs *sregs)
{
	if (!vcpu || !sregs)
		return vmmi_error(-EINVAL, "vmm_vcpu_get_sregs: NULL argument");
	return vcpu->vm->ops->get_sregs(vcpu, sregs);
}

int vmm_vcpu_set_sregs(struct vmm_vcpu *vcpu, const struct vmm_sregs *sregs)
{
	if (!vcpu || !sregs)
		return vmmi_error(-EINVAL, "vmm_vcpu_set_sregs: NULL argument");
	if (atomic_load(&vcpu->in_run))
		return vmmi_error(-EBUSY, "vCPU %u is running", vcpu->index);
	return vcpu->vm->ops->set_sregs(vcpu, sregs);
}

void vmmi_vcpu_kick(struct vmm_vcpu *vcpu)
{
	int err = pthread_mutex_lock(&vcpu->kick_lock);

	if (err) {
		/*
		 * Not kicked (a default mutex fails only if corrupted): nobody
		 * kicks again, so the request waits for the vCPU's next exit.
		 */
		vmmi_log(vcpu->vm, VMM_LOG_ERROR, "vcpu%u: cannot take its kick lock: %s",
			 vcpu->index, strerror(err));
		return;
	}
	if (atomic_load(&vcpu->in_run))
		vcpu->vm->ops->kick(vcpu);
	err = vcpu->kick_err;
	vcpu->kick_err = 0;
	VMMI_PT_LOG(vcpu->vm, pthread_mutex_unlock(&vcpu->kick_lock), "kick");
	/* Not under the lock: the log function may stop the VM, which kicks this vCPU. */
	if (err)
		vmmi_log(vcpu->vm, VMM_LOG_ERROR, "vcpu%u: cannot send the kick signal %d: %s",
			 vcpu->index, vcpu->vm->opts.kick_signal, strerror(err));
}

bool vmmi_vm_running(const struct vmm_vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i] && atomic_load(&vm->vcpus[i]->in_run))
			return true;
	return false;
}

/*
 * Enter vmm_vcpu_run(): claim the vCPU for this thread, and let the kick
 * signal in for the run (*old: the caller's mask, to restore). Unblocking it
 * on the thread rather than only inside KVM_RUN (KVM_SET_SIGNAL_MASK) is
 * what the KVM API document advises with immediate_exit: no signal stays
 * pending after a kick, so none has to be dequeued (sigtimedwait() would
 * also take a process-directed one of the program's).
 */
static int run_enter(struct vmm_vcpu *vcpu, sigset_t *old)
{
	struct vmm_vm *vm = vcpu->vm;
	sigset_t set;
	int err;

	err = pthread_mutex_lock(&vcpu->kick_lock);
	if (err)
		return vmmi_error(-err, "vCPU %u: cannot take its kick lock: %s", vcpu->index,
				  strerror(err));
	if (atomic_load(&vcpu->in_run)) {
		VMMI_PT_LOG(vm, pthread_mutex_unlock(&vcpu->kick_lock), "vmm_vcpu_run");
		return vmmi_error(-EBUSY, "vCPU %u is already running", vcpu->index);
	}
	if (vm->ops->kick_signals) {
		sigemptyset(&set);
		sigaddset(&set, vm->opts.kick_signal);
		err = pthread_sigmask(SIG_UNBLOCK, &set, old);
		if (err) {
			VMMI_PT_LOG(vm, pthread_mutex_unlock(&vcpu->kick_lock), "vmm_vcpu_run");
			return vmmi_error(-err, "vCPU %u: pthread_sigmask: %s", vcpu->index,
					  strerror(err));
		}
	}
	vcpu->thread = pthread_self();
	atomic_store(&vcpu->in_run, true);
	VMMI_PT_LOG(vm, pthread_mutex_unlock(&vcpu->kick_lock), "vmm_vcpu_run");
	return 0;
}

/* Leave vmm_vcpu_run(): no kick is sent from here on; give the caller its mask back. */
static void run_leave(struct vmm_vcpu *vcpu, const sigset_t *old)
{
	struct vmm_vm *vm = vcpu->vm;
	sigset_t pending;
	int err = pthread_mutex_lock(&vcpu->kick_lock);

	atomic_store(&vcpu->in_run, false);
	if (!err)
		VMMI_PT_LOG(vm, pthread_mutex_unlock(&vcpu->kick_lock), "vmm_vcpu_run");
	else
		vmmi_log(vm, VMM_LOG_ERROR, "vcpu%u: cannot take its kick lock: %s", vcpu->index,
			 strerror(err));
	if (!vm->ops->kick_signals)
		return;
	/*
	 * A kick sent before in_run fell is queued on this thread already
	 * (pthread_kill() returned under the lock), but may not have been
	 * delivered yet. If the caller blocks the signal it would stay pending
	 * there, so let it in first: any system call's return delivers it.
	 */
	if (sigismember(old, vm->opts.kick_signal) == 1)
		sigpending(&pending);
	err = pthread_sigmask(SIG_SETMASK, old, NULL);
	if (err)
		vmmi_log(vm, VMM_LOG_ERROR, "vcpu%u: cannot restore the signal mask: %s",
			 vcpu->index, strerror(err));
}

/* vmm_vcpu_run() into exit, a complete zeroed struct of this version. */
static int vcpu_run(struct vmm_vcpu *vcpu, struct vmm_exit *exit)
{
	struct vmm_vm *vm = vcpu->vm;
	sigset_t old_mask;
	bool locked;
	int ret;

	exit->vcpu = vcpu->index;
	ret = run_enter(vcpu, &old_mask);
	if (ret < 0) {
		vmmi_exit_set(exit, VMM_EXIT_ERROR, "%s", vmm_last_error());
		return ret;
	}
	vmmi_running_vm = vm;
	for (;;) {
		/* Wait out a layout change, then count as active until run() returns. */
		ret = VMMI_PT(pthread_mutex_lock(&vm->run_lock), "vmm_vcpu_run");
		if (ret < 0)
			break;
		while (vm->pausing && ret == 0)
			ret = VMMI_PT(pthread_cond_wait(&vm->run_cond, &vm->run_lock),
				      "vmm_vcpu_run");
		if (ret == 0)
			vm->active++;
		VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->run_lock), "vmm_vcpu_run");
		if (ret < 0)
			break;

		ret = vm->ops->run(vcpu, exit);

		/* Leave the count even if the lock fails: a changer waits for it. */
		locked = VMMI_PT_LOG(vm, pthread_mutex_lock(&vm->run_lock), "vmm_vcpu_run") == 0;
		if (--vm->active == 0 && vm->pausing)
			VMMI_PT_LOG(vm, pthread_cond_broadcast(&vm->run_cond), "vmm_vcpu_run");
		if (locked)
			VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->run_lock), "vmm_vcpu_run");
		/* Paused at an instruction boundary for a change: go on where it stopped. */
		if (ret < 0 || exit->reason != VMM_EXIT_NONE)
			break;
	}
	vmmi_running_vm = NULL;
	run_leave(vcpu, &old_mask);
	if (ret < 0 && exit->reason == VMM_EXIT_NONE)
		vmmi_exit_set(exit, VMM_EXIT_ERROR, "%s", vmm_last_error());
	if (exit->reason == VMM_EXIT_STOPPED) {
		/* stop_requested was set under stop_lock before the kick. */
		locked = VMMI_PT_LOG(vm, pthread_mutex_lock(&vm->stop_lock), "vmm_vcpu_run") == 0;
		exit->exit_code = vm->exit_code;
		if (vm->reset_requested) {
			exit->reason = VMM_EXIT_RESET;
			snprintf(exit->detail, sizeof(exit->detail), "%s",
				 "the guest asked for a reset (0xfe to the keyboard controller, "
				 "port 0x64)");
		} else if (!exit->detail[0])
			snprintf(exit->detail, sizeof(exit->detail), "%s",
				 atomic_load(&vm->stop_requested) == VMMI_STOP_GUEST
				     ? "stop requested"
				     : "stopped because another vCPU stopped");
		if (locked)
			VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->stop_lock), "vmm_vcpu_run");
	}
	vm->ops->get_regs(vcpu, &exit->regs);
	vm->ops->get_sregs(vcpu, &exit->sregs);
	return ret;
}

int vmm_vcpu_run(struct vmm_vcpu *vcpu, struct vmm_exit *exit)
{
	struct vmm_exit ex = {.size = sizeof(ex)};
	int ret;

	if (!vcpu || !exit)
		return vmmi_error(-EINVAL, "vmm_vcpu_run: NULL argument");
	ret = vmmi_size_check(exit->size, VMMI_SIZE_MIN(struct vmm_exit, reason),
			      "vmm_vcpu_run: exit", "vmm_exit");
	if (ret < 0)
		return ret;
	ret = vcpu_run(vcpu, &ex);
	vmmi_size_copy_out(exit, exit->size, &ex, sizeof(ex));
	return ret;
}
