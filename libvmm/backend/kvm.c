/* SPDX-License-Identifier: MIT */
/* kvm.c - the kvm backend: /dev/kvm ioctls, one KVM memslot per RAM slot, the KVM_RUN exit loop. */
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/kvm.h"

/*
 * Kicking a vCPU out of KVM_RUN needs a signal: we set kvm_run.immediate_exit
 * (so a vCPU about to enter returns at once) and send the VM's kick signal
 * (opts.kick_signal) to the vCPU's thread (so one inside the guest exits).
 * Its handler does nothing. vmm_vcpu_run() unblocks it for the run.
 *
 * No kick is lost (the contract in vmm_internal.h): a kick makes the run()
 * under way, or the next one, return to the core, which looks at why it
 * kicked (stop_requested, pause_req, stored before the kick) and calls
 * run() again if the guest is to go on. A kick that comes while the vCPU
 * is inside KVM_RUN ends it with EINTR (the signal). One that comes while
 * it is in userspace (a device callback, the core, the way into KVM_RUN)
 * leaves immediate_exit set, so the next KVM_RUN returns EINTR at once,
 * without running the guest: the signal's handler may well have run
 * already and is then forgotten. run_loop() returns for an EINTR without
 * looking further, and every return of run() clears immediate_exit
 * (kick_consume()): it answers the kicks made until then, and the core's
 * next run() reads the flags after the clear. complete_io() sets
 * immediate_exit for its own use, on the way out of run() with an exit.
 *
 * The halt watch (kvm_halt.c) sends the same signal to a vCPU blocked in a
 * HLT, without immediate_exit: an EINTR with immediate_exit clear is not a
 * kick, so the loop looks whether the vCPU has ended (vmmi_kvm_halt_ended())
 * and otherwise enters KVM_RUN again. A kick racing with it is not lost:
 * its immediate_exit ends that next KVM_RUN at once.
 */

static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do
		ret = ioctl(fd, req, arg);
	while (ret < 0 && (errno == EINTR || errno == EAGAIN) && req != KVM_RUN);
	return ret;
}

/* The backend table's probe: does /dev/kvm open read-write and offer what kvm_vm_init() needs? */
static int kvm_probe(char *why, size_t len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int ret = 0, version;

	if (fd < 0) {
		ret = -errno;
		snprintf(why, len, "/dev/kvm: %s", strerror(errno));
		return ret;
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(why, len, "/dev/kvm: KVM API version %d, need %d", version,
			 KVM_API_VERSION);
		ret = -ENODEV;
	} else if (ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0 ||
		   ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0) {
		snprintf(
		    why, len,
		    "/dev/kvm: the kernel lacks KVM_CAP_USER_MEMORY or KVM_CAP_IMMEDIATE_EXIT");
		ret = -ENODEV;
	} else if (ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_SPLIT_IRQCHIP) <= 0 ||
		   ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_SIGNAL_MSI) <= 0) {
		snprintf(why, len,
			 "/dev/kvm: the kernel lacks KVM_CAP_SPLIT_IRQCHIP or KVM_CAP_SIGNAL_MSI "
			 "(the local APICs)");
		ret = -ENODEV;
	} else {
		snprintf(why, len, "/dev/kvm is usable");
	}
	close(fd);
	return ret;
}

static void kick_handler(int sig)
{
	(void)sig;
}

/* One VM's check and install at a time: two must not both decide on one signal. */
static pthread_mutex_t kick_handler_lock = PTHREAD_MUTEX_INITIALIZER;

/* Install the no-op handler on sig unless the program already handles it itself. */
static int install_kick_handler(int sig)
{
	struct sigaction sa, old;
	int ret = 0, err;

	err = pthread_mutex_lock(&kick_handler_lock);
	if (err)
		return vmmi_error(-err, "kvm: kick signal %d: %s", sig, strerror(err));
	if (sigaction(sig, NULL, &old) < 0) {
		ret =
		    vmmi_error(-errno, "kvm: kick signal %d: sigaction: %s", sig, strerror(errno));
		goto out;
	}
	/* SIG_IGN would discard kicks (and SIG_DFL end the process): both are replaced. */
	if ((old.sa_flags & SA_SIGINFO) || (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN))
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	/*
	 * KVM_RUN returns EINTR whatever the flags (KVM never restarts it).
	 * Without SA_RESTART a kick also ends a system call that a device
	 * callback blocks in on the vCPU thread (EINTR), so a device stuck on
	 * its output can notice a stop.
	 */
	sa.sa_flags = 0;
	if (sigaction(sig, &sa, NULL) < 0)
		ret =
		    vmmi_error(-errno, "kvm: kick signal %d: sigaction: %s", sig, strerror(errno));
out:
	VMMI_PT_LOG(NULL, pthread_mutex_unlock(&kick_handler_lock), "kvm: kick signal");
	return ret;
}

static void kvm_vm_fini(struct vmm_vm *vm)
{
	struct kvm_vm *k = vm->be;

	if (!k)
		return;
	vmmi_kvm_watch_fini(k);
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->kvm_fd >= 0)
		close(k->kvm_fd);
	vmmi_kvm_arch_vm_fini(k);
	free(k);
	vm->be = NULL;
}

static int kvm_vm_init(struct vmm_vm *vm)
{
	struct kvm_vm *k;
	int ret;

	k = calloc(1, sizeof(*k));
	if (!k)
		return vmmi_error(-ENOMEM, "kvm: out of memory");
	k->vm_fd = -1;
	vm->be = k;
	k->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->kvm_fd < 0) {
		ret = vmmi_error(errno == ENOENT ? -ENODEV : -errno,
				 "kvm: cannot open /dev/kvm: %s", strerror(errno));
		goto err;
	}
	ret = ioctl(k->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		ret = vmmi_error(-ENODEV, "kvm: API version %d, need %d", ret, KVM_API_VERSION);
		goto err;
	}
	if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0 ||
	    ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0) {
		ret = vmmi_error(
		    -ENODEV, "kvm: the kernel lacks KVM_CAP_USER_MEMORY or KVM_CAP_IMMEDIATE_EXIT");
		goto err;
	}
	k->max_slots = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	if (k->max_slots <= 0)
		k->max_slots = 32; /* the API's documented minimum */
	if (k->max_slots > VMM_MEMSLOT_MAX)
		k->max_slots = VMM_MEMSLOT_MAX;
	vm->slots.max = (size_t)k->max_slots;
	k->readonly_mem = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0;
	k->run_size = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->run_size < (int)sizeof(struct kvm_run)) {
		ret = vmmi_error(-ENODEV, "kvm: KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		goto err;
	}
	do
		k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	while (k->vm_fd < 0 && errno == EINTR);
	if (k->vm_fd < 0) {
		ret = vmmi_error(-errno, "kvm: KVM_CREATE_VM: %s", strerror(errno));
		goto err;
	}
	/* Before any vCPU exists: KVM creates each one's local APIC with it. */
	ret = vmmi_kvm_irqchip_init(k);
	if (ret < 0)
		goto err;
	ret = vmmi_kvm_arch_vm_init(k);
	if (ret < 0)
		goto err;
	ret = vmmi_kvm_watch_init(vm);
	if (ret < 0)
		goto err;
	ret = install_kick_handler(vm->opts.kick_signal);
	if (ret < 0)
		goto err;
	return 0;
err:
	kvm_vm_fini(vm);
	return ret;
}

static int set_region(struct vmm_vm *vm, const struct vmmi_slot *s, bool add)
{
	struct kvm_vm *k = vm->be;
	struct kvm_userspace_memory_region r = {
	    .slot = s->id,
	    .flags = (s->flags & VMM_MEMSLOT_READONLY ? KVM_MEM_READONLY : 0) |
		     (s->flags & VMM_MEMSLOT_LOG_DIRTY ? KVM_MEM_LOG_DIRTY_PAGES : 0),
	    .guest_phys_addr = s->gpa,
	    .memory_size = add ? s->size : 0,
	    .userspace_addr = (uintptr_t)s->hva,
	};

	if (s->id >= (uint32_t)k->max_slots)
		return vmmi_error(-ENOSPC,
				  "kvm: memslot '%s' would be KVM slot %u, but KVM allows %d",
				  s->name, s->id, k->max_slots);
	if ((s->flags & VMM_MEMSLOT_READONLY) && !k->readonly_mem)
		return vmmi_error(-EOPNOTSUPP,
				  "kvm: memslot '%s': this kernel has no KVM_CAP_READONLY_MEM",
				  s->name);
	if (xioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return vmmi_error(-errno,
				  "kvm: KVM_SET_USER_MEMORY_REGION for '%s' [0x%llx, 0x%llx): %s",
				  s->name, (unsigned long long)s->gpa,
				  (unsigned long long)(s->gpa + s->size), strerror(errno));
	return 0;
}

static int kvm_slot_add(struct vmm_vm *vm, const struct vmmi_slot *s)
{
	return set_region(vm, s, true);
}

static int kvm_slot_remove(struct vmm_vm *vm, const struct vmmi_slot *s)
{
	return set_region(vm, s, false);
}

/* KVM changes a live slot's flags in place (only KVM_MEM_LOG_DIRTY_PAGES may change). */
static int kvm_slot_flags(struct vmm_vm *vm, const struct vmmi_slot *s, uint32_t old_flags)
{
	return set_region(vm, s, true);
}

static int kvm_dirty_fetch(struct vmm_vm *vm, const struct vmmi_slot *s, uint64_t *bitmap,
			   size_t words)
{
	struct kvm_vm *k = vm->be;
	/* KVM writes ALIGN(pages, 64) bits: exactly words 64-bit words. */
	struct kvm_dirty_log log = {.slot = s->id, .dirty_bitmap = bitmap};

	if (xioctl(k->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
		return vmmi_error(-errno, "kvm: KVM_GET_DIRTY_LOG for '%s': %s", s->name,
				  strerror(errno));
	return 0;
}

static void kvm_vcpu_fini(struct vmm_vcpu *vcpu)
{
	struct kvm_vm *k = vcpu->vm->be;
	struct kvm_vcpu *kv = vcpu->be;

	if (!kv)
		return;
	vmmi_kvm_watch_vcpu_fini(kv);
	if (kv->run && kv->run != MAP_FAILED)
		munmap(kv->run, k->run_size);
	if (kv->fd >= 0)
		close(kv->fd);
	free(kv);
	vcpu->be = NULL;
}

static int kvm_vcpu_init(struct vmm_vcpu *vcpu)
{
	struct kvm_vm *k = vcpu->vm->be;
	struct kvm_vcpu *kv;
	int ret;

	kv = calloc(1, sizeof(*kv));
	if (!kv)
		return vmmi_error(-ENOMEM, "kvm: out of memory");
	vcpu->be = kv;
	kv->stats_fd = -1;
	kv->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)vcpu->index);
	if (kv->fd < 0) {
		ret =
		    vmmi_error(-errno, "kvm: KVM_CREATE_VCPU %u: %s", vcpu->index, strerror(errno));
		goto err;
	}
	fcntl(kv->fd, F_SETFD, FD_CLOEXEC);
	kv->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, kv->fd, 0);
	if (kv->run == MAP_FAILED) {
		kv->run = NULL;
		ret = vmmi_error(-errno, "kvm: mmap of vCPU %u's kvm_run: %s", vcpu->index,
				 strerror(errno));
		goto err;
	}
	ret = vmmi_kvm_arch_vcpu_init(k, kv, vcpu->index);
	if (ret < 0)
		goto err;
	ret = vmmi_kvm_irq_vcpu_init(kv, vcpu->index);
	if (ret < 0)
		goto err;
	vmmi_kvm_watch_vcpu_init(kv);
	return 0;
err:
	kvm_vcpu_fini(vcpu);
	return ret;
}

static int handle_mmio(struct vmm_vcpu *vcpu, struct kvm_run *run, struct vmm_exit *exit)
{
	uint32_t len = run->mmio.len;
	bool is_write = run->mmio.is_write;
	uint64_t v = 0;
	int ret;

	if (len == 0 || len > sizeof(run->mmio.data)) {
		vmmi_exit_set(exit, VMM_EXIT_INTERNAL_ERROR, "KVM_EXIT_MMIO with length %u", len);
		return 1;
	}
	if (len & (len - 1)) {
		/* Odd lengths (an instruction KVM split oddly): byte by byte. */
		for (uint32_t i = 0; i < len; i++) {
			v = run->mmio.data[i];
			ret = vmmi_dispatch(vcpu, VMM_SPACE_MMIO, run->mmio.phys_addr + i, 1,
					    is_write, &v, exit);
			if (!is_write)
				run->mmio.data[i] = (uint8_t)v;
			if (ret) {
				if (!is_write)
					memset(run->mmio.data + i + 1, 0xff, len - i - 1);
				return ret;
			}
		}
		return 0;
	}
	if (is_write)
		memcpy(&v, run->mmio.data, len);
	ret = vmmi_dispatch(vcpu, VMM_SPACE_MMIO, run->mmio.phys_addr, len, is_write, &v, exit);
	/* Even on a stop (all-ones then): KVM completes the read with it. */
	if (!is_write)
		memcpy(run->mmio.data, &v, len);
	return ret;
}

/*
 * The vCPU stops after an MMIO or PIO exit: finish that instruction now, so
 * that the registers read after the stop are those the guest goes on from
 * (RIP past it, a read's value in its register). The KVM API document: the
 * operation completes only when KVM_RUN is entered again, and KVM finishes
 * it before it looks at immediate_exit, which then returns EINTR without
 * running the guest. An access KVM splits (one crossing a page) needs a
 * further exit per fragment: those are dispatched too, as the guest's
 * instruction makes them, into a scratch exit (the stop stays the one
 * reported).
 */
static void complete_io(struct vmm_vcpu *vcpu)
{
	struct kvm_vm *k = vcpu->vm->be;
	struct kvm_vcpu *kv = vcpu->be;
	struct kvm_run *run = kv->run;
	struct vmm_exit scratch;

	for (int i = 0; kv->io_pending && i < 16; i++) {
		memset(&scratch, 0, sizeof(scratch));
		__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_RELAXED);
		if (ioctl(kv->fd, KVM_RUN, 0) < 0) {
			kv->io_pending = false;
			if (errno != EINTR && errno != EAGAIN)
				vmmi_log(vcpu->vm, VMM_LOG_ERROR,
					 "vcpu%u: KVM_RUN to complete an access: %s", vcpu->index,
					 strerror(errno));
			break;
		}
		if (run->exit_reason == KVM_EXIT_MMIO)
			handle_mmio(vcpu, run, &scratch);
		else if (run->exit_reason == KVM_EXIT_IO)
			vmmi_kvm_handle_io(vcpu, run, k->run_size, &scratch);
		else
			kv->io_pending = false; /* no guest instruction ran: nothing to finish */
	}
	if (kv->io_pending)
		vmmi_log(vcpu->vm, VMM_LOG_ERROR,
			 "vcpu%u: an access still pending after 16 fragments", vcpu->index);
	kv->io_pending = false; /* immediate_exit stays set: run() clears it as it returns */
}

/*
 * run() returns to the core, which looks at why anyone kicked: clear
 * immediate_exit. Sequentially consistent, so the clear is ordered before
 * the next run()'s read of stop_requested and pause_req. A kicker stores
 * its flag and then immediate_exit (both sequentially consistent): a clear
 * after its immediate_exit is followed by a read that sees its flag; a
 * clear before it leaves immediate_exit set for the next KVM_RUN. Relaxed,
 * the clear could pass the read (a store buffer): the flag read as clear,
 * the kick's immediate_exit wiped, its signal handled before KVM_RUN, and
 * the guest would run on.
 */
static void kick_consume(struct kvm_run *run)
{
	__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
}

static int run_loop(struct vmm_vcpu *vcpu, struct vmm_exit *exit)
{
	struct kvm_vm *k = vcpu->vm->be;
	struct kvm_vcpu *kv = vcpu->be;
	struct kvm_run *run = kv->run;
	struct vmm_vm *vm = vcpu->vm;

	for (;;) {
		int ret;

		if (atomic_load(&vm->stop_requested)) {
			vmmi_exit_set(exit, VMM_EXIT_STOPPED, "%s", "");
			return 0;
		}
		/*
		 * A layout change waits: leave with no exit. A pending MMIO or PIO
		 * read has its data in kvm_run already; KVM completes the
		 * instruction on the next KVM_RUN, after the change.
		 */
		if (atomic_load(&vm->pause_req))
			return 0;
		ret = ioctl(kv->fd, KVM_RUN, 0);
		if (kv->eoi_flush) {
			int err = errno;

			vmmi_kvm_eoi_flushed(vcpu);
			errno = err;
		}
		/* Entering finished the pending access; an MMIO or PIO exit starts another. */
		kv->io_pending = ret == 0 && (run->exit_reason == KVM_EXIT_IO ||
					      run->exit_reason == KVM_EXIT_MMIO);
		if (ret < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				/* A kick: no exit, the core decides. */
				if (__atomic_load_n(&run->immediate_exit, __ATOMIC_SEQ_CST))
					return 0;
				/* The halt watch, or a signal of the program's. */
				ret = vmmi_kvm_halt_ended(vcpu, exit);
				if (ret < 0)
					vmmi_exit_set(exit, VMM_EXIT_ERROR, "%s", vmm_last_error());
				if (ret != 0)
					return ret < 0 ? ret : 0;
				continue;
			}
			vmmi_exit_set(exit, VMM_EXIT_ERROR, "KVM_RUN: %s", strerror(errno));
			return vmmi_error(-errno, "kvm: KVM_RUN on vCPU %u: %s", vcpu->index,
					  strerror(errno));
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (vmmi_kvm_handle_io(vcpu, run, k->run_size, exit))
				return 0;
			break;
		case KVM_EXIT_MMIO:
			if (handle_mmio(vcpu, run, exit))
				return 0;
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_IOAPIC_EOI:
			/* A level-triggered vector's EOI (a route of vmmi_kvm_irq_routes()). */
			vmmi_irq_eoi(vm, run->eoi.vector);
			atomic_fetch_add_explicit(&k->watch.eois, 1, memory_order_relaxed);
			break;
		case KVM_EXIT_HLT:
			vmmi_exit_set(exit, VMM_EXIT_HLT, "hlt with interrupts off");
			return 0;
		case KVM_EXIT_SHUTDOWN:
			vmmi_exit_set(exit, VMM_EXIT_SHUTDOWN,
				      "triple fault (an exception the guest could not handle)");
			return 0;
		case KVM_EXIT_FAIL_ENTRY:
			exit->hw_code = run->fail_entry.hardware_entry_failure_reason;
			vmmi_exit_set(exit, VMM_EXIT_FAIL_ENTRY,
				      "the CPU refused to enter the guest (hardware reason 0x%llx)",
				      (unsigned long long)exit->hw_code);
			return 0;
		case KVM_EXIT_INTERNAL_ERROR:
			if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
			    vmmi_kvm_emulation_failed(vcpu))
				break;
			exit->hw_code = run->internal.suberror;
			vmmi_exit_set(exit, VMM_EXIT_INTERNAL_ERROR,
				      "KVM internal error, suberror %u%s", run->internal.suberror,
				      run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
					  ? " (instruction emulation failed)"
					  : "");
			return 0;
		case KVM_EXIT_SYSTEM_EVENT:
			exit->hw_code = run->system_event.type;
			vmmi_exit_set(exit, VMM_EXIT_SHUTDOWN,
				      "system event %u (shutdown or reset)",
				      run->system_event.type);
			return 0;
		default:
			exit->hw_code = run->exit_reason;
			vmmi_exit_set(exit, VMM_EXIT_INTERNAL_ERROR,
				      "unexpected KVM exit reason %u", run->exit_reason);
			return 0;
		}
	}
}

static int kvm_run_vcpu(struct vmm_vcpu *vcpu, struct vmm_exit *exit)
{
	struct kvm_vcpu *kv = vcpu->be;
	int ret = vmmi_kvm_watch_enter(vcpu);

	if (ret < 0) {
		vmmi_exit_set(exit, VMM_EXIT_ERROR, "%s", vmm_last_error());
		kick_consume(kv->run);
		return ret;
	}
	ret = run_loop(vcpu, exit);
	vmmi_kvm_watch_leave(vcpu);

	/* Not for a pause (no exit): the run goes on, and its KVM_RUN completes the access. */
	if (kv->io_pending && ret == 0 && exit->reason != VMM_EXIT_NONE)
		complete_io(vcpu);
	kick_consume(kv->run);
	return ret;
}

/*
 * Under vcpu->kick_lock with in_run set: vcpu->thread is in vmm_vcpu_run().
 * The caller has stored its reason (stop_requested, pause_req) already.
 */
static void kvm_kick(struct vmm_vcpu *vcpu)
{
	struct kvm_vcpu *kv = vcpu->be;
	int err;

	/*
	 * Before the signal, which a vCPU outside KVM_RUN handles at once and
	 * forgets: the next KVM_RUN returns at once instead (kick_consume()).
	 */
	__atomic_store_n(&kv->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	err = pthread_kill(vcpu->thread, vcpu->vm->opts.kick_signal);
	if (err)
		vcpu->kick_err = err; /* logged once the lock is dropped */
}

static const struct vmmi_backend_ops kvm_ops = {
    .vm_init = kvm_vm_init,
    .vm_fini = kvm_vm_fini,
    .slot_add = kvm_slot_add,
    .slot_remove = kvm_slot_remove,
    .slot_flags = kvm_slot_flags,
    .dirty_fetch = kvm_dirty_fetch,
    .windows_changed = NULL,
    .vcpu_init = kvm_vcpu_init,
    .vcpu_fini = kvm_vcpu_fini,
    .get_regs = vmmi_kvm_get_regs,
    .set_regs = vmmi_kvm_set_regs,
    .get_sregs = vmmi_kvm_get_sregs,
    .set_sregs = vmmi_kvm_set_sregs,
    .run = kvm_run_vcpu,
    .kick = kvm_kick,
    .kick_signals = true,
    .msi = vmmi_kvm_msi,
    .irq_routes = vmmi_kvm_irq_routes,
    .irq_reset = vmmi_kvm_irq_reset,
    .linux_vcpu = vmmi_kvm_linux_vcpu,
};

const struct vmmi_backend vmmi_backend_kvm = {
    .name = "kvm",
    .accel = VMM_ACCEL_KVM,
    .probe = kvm_probe,
    .ops = &kvm_ops,
};
