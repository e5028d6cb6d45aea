/* vm.c - VM lifecycle, memslot API, vCPUs, and the run/stop machinery shared by both backends. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "vmm_internal.h"

const char *vmm_version(void)
{
	return VMM_VERSION_STRING;
}

const char *vmm_accel_name(enum vmm_accel accel)
{
	switch (accel) {
	case VMM_ACCEL_AUTO:
		return "auto";
	case VMM_ACCEL_KVM:
		return "kvm";
	case VMM_ACCEL_EMU:
		return "emu";
	}
	return NULL;
}

int vmm_accel_parse(const char *name, enum vmm_accel *out)
{
	static const enum vmm_accel all[] = { VMM_ACCEL_AUTO, VMM_ACCEL_KVM, VMM_ACCEL_EMU };

	for (size_t i = 0; name && i < sizeof(all) / sizeof(all[0]); i++) {
		if (!strcmp(name, vmm_accel_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	}
	return vmmi_error(-EINVAL, "unknown accelerator '%s' (expected auto, kvm or emu)",
			  name ? name : "(null)");
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

/* A condition variable whose timed waits use CLOCK_MONOTONIC (immune to clock changes). */
static int cond_init_monotonic(pthread_cond_t *cond, const char *what)
{
	pthread_condattr_t ca;
	int ret;

	ret = VMMI_PT(pthread_condattr_init(&ca), what);
	if (ret < 0)
		return ret;
	ret = VMMI_PT(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), what);
	if (ret == 0)
		ret = VMMI_PT(pthread_cond_init(cond, &ca), what);
	VMMI_PT_LOG(NULL, pthread_condattr_destroy(&ca), what);
	return ret;
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
	ret = cond_init_monotonic(&vm->run_cond, what);
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
	return vmmi_error(-EINVAL,
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

	switch (vm->opts.accel) {
	case VMM_ACCEL_AUTO:
		vm->ops = vmmi_kvm_usable() ? &vmmi_kvm_ops : &vmmi_emu_ops;
		break;
	case VMM_ACCEL_KVM:
		vm->ops = &vmmi_kvm_ops;
		break;
	case VMM_ACCEL_EMU:
		vm->ops = &vmmi_emu_ops;
		break;
	default:
		ret = vmmi_error(-EINVAL, "vmm_vm_create: unknown accelerator %d", vm->opts.accel);
		goto err_free;
	}
	ret = vm->ops->vm_init(vm);
	if (ret < 0)
		goto err_free;
	vmmi_log(vm, VMM_LOG_INFO, "backend %s%s", vm->ops->name,
		 vm->opts.accel == VMM_ACCEL_AUTO ?
			 (vm->ops == &vmmi_kvm_ops ? " (auto: /dev/kvm is usable)" :
						     " (auto: /dev/kvm is not usable)") :
			 "");
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
	vm->ops->vm_fini(vm);
	free(vm->loaded);
	vm_locks_destroy(vm);
	free(vm);
}

enum vmm_accel vmm_vm_accel(const struct vmm_vm *vm)
{
	return vm->ops->accel;
}

void vmmi_vcpu_kick(struct vmm_vcpu *vcpu)
{
	int err = pthread_mutex_lock(&vcpu->kick_lock);

	if (err) {
		/* Not kicked: the callers kick again until the vCPU is out. */
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

/* ---- layout changes while vCPUs run ---- */

/* The VM whose vCPU this thread is running, if any: changes from here would wait for themselves. */
static __thread const struct vmm_vm *tls_running_vm;
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
		return vmmi_error(-EDEADLK,
				  "%s: called while this thread changes the VM's layout (from the log "
				  "function?): guest memory is not readable until the change ends",
				  what);
	err = pthread_rwlock_rdlock(mem_lock(vm));
	if (err)
		return vmmi_error(-err, "%s: cannot lock the memory layout: %s", what, strerror(err));
	return 0;
}

int vmmi_mem_read_end(const struct vmm_vm *vm, const char *what)
{
	int err = pthread_rwlock_unlock(mem_lock(vm));

	return err ? vmmi_error(-err, "%s: cannot unlock the memory layout: %s", what,
				strerror(err)) :
		     0;
}

static void resume_vcpus(struct vmm_vm *vm, const char *what);

int vmmi_change_begin(struct vmm_vm *vm, const char *what)
{
	int ret;

	if (tls_running_vm == vm)
		return vmmi_error(-EDEADLK,
				  "%s: called on a vCPU thread of this VM while it runs (a device "
				  "callback?): the vCPU could never pause; make the change from another thread",
				  what);
	if (tls_changing_vm == vm)
		return vmmi_error(-EDEADLK,
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
	while (vm->active) {
		struct timespec ts;

		/* A kick can miss a vCPU about to enter the guest: kick until all are out. */
		VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->run_lock), what);
		for (unsigned i = 0; i < vm->nvcpus; i++)
			if (vm->vcpus[i])
				vmmi_vcpu_kick(vm->vcpus[i]);
		ret = VMMI_PT(pthread_mutex_lock(&vm->run_lock), what);
		if (ret < 0)
			goto err_resume;
		if (!vm->active)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		ret = pthread_cond_timedwait(&vm->run_cond, &vm->run_lock, &ts);
		if (ret && ret != ETIMEDOUT) {
			ret = vmmi_pthread_failed(NULL, ret, "pthread_cond_timedwait", what);
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

/* ---- memslots ---- */

void vmmi_slot_release(struct vmmi_slot *s)
{
	if (s->owned)
		munmap(s->hva, s->size);
	free((void *)s->dirty);
	s->dirty = NULL;
}

int vmm_memslot_max(const struct vmm_vm *vm)
{
	return vm ? (int)vm->slots.max : -EINVAL;
}

/* Start a dirty record for s: all clear. */
static int dirty_alloc(struct vmmi_slot *s)
{
	s->dirty = calloc(vmmi_dirty_words(s->size), sizeof(uint64_t));
	if (!s->dirty)
		return vmmi_error(-ENOMEM, "memslot '%s': out of memory for the dirty bitmap", s->name);
	return 0;
}

/* Add a slot, under vmmi_change_begin(); owned: the VM allocated hva. */
static int slot_add_locked(struct vmm_vm *vm, const char *name, uint64_t gpa, uint64_t size,
			   void *hva, uint32_t flags, bool owned)
{
	const struct vmmi_window *w;
	struct vmmi_slot *slot;
	int ret;

	ret = vmmi_slots_insert(&vm->slots, name, gpa, size, hva, flags, &slot);
	if (ret < 0)
		return ret;
	/*
	 * Checked after the slot's own checks, so a bad slot gets its own errno
	 * first. A window over a read-only slot takes its writes.
	 */
	w = vmmi_bus_overlap(&vm->bus[0], gpa, size);
	if (w && !(flags & VMM_MEMSLOT_READONLY)) {
		vmmi_slots_remove(&vm->slots, gpa, NULL);
		return vmmi_error(-EEXIST,
				  "memslot '%s' [0x%llx, 0x%llx) overlaps device '%s' [0x%llx, 0x%llx]",
				  name ? name : "", (unsigned long long)gpa,
				  (unsigned long long)(gpa + size), w->dev->name,
				  (unsigned long long)w->base,
				  (unsigned long long)(w->base + (w->length - 1)));
	}
	slot->owned = owned;
	if (flags & VMM_MEMSLOT_LOG_DIRTY)
		ret = dirty_alloc(slot);
	if (ret == 0)
		ret = vm->ops->slot_add(vm, slot);
	if (ret < 0) {
		struct vmmi_slot gone;

		vmmi_slots_remove(&vm->slots, gpa, &gone);
		gone.owned = false; /* the caller frees what it allocated */
		vmmi_slot_release(&gone);
		return ret;
	}
	return 0;
}

static int slot_add(struct vmm_vm *vm, const char *name, uint64_t gpa, uint64_t size, void *hva,
		    uint32_t flags, bool owned)
{
	int ret = vmmi_change_begin(vm, "vmm_memslot_add");

	if (ret < 0)
		return ret;
	ret = slot_add_locked(vm, name, gpa, size, hva, flags, owned);
	vmmi_change_end(vm);
	return ret;
}

int vmm_memslot_add_flags(struct vmm_vm *vm, const char *name, uint64_t gpa, uint64_t size,
			  void *hva, uint32_t flags)
{
	if (!vm)
		return vmmi_error(-EINVAL, "vmm_memslot_add: vm is NULL");
	return slot_add(vm, name, gpa, size, hva, flags, false);
}

int vmm_memslot_add(struct vmm_vm *vm, const char *name, uint64_t gpa, uint64_t size, void *hva)
{
	return vmm_memslot_add_flags(vm, name, gpa, size, hva, 0);
}

int vmm_memslot_alloc_flags(struct vmm_vm *vm, const char *name, uint64_t gpa, uint64_t size,
			    uint32_t flags, void **hva)
{
	void *mem;
	int ret;

	if (!vm || !size || (size & VMMI_PAGE_MASK) || size > VMMI_GPA_LIMIT)
		return vmmi_error(-EINVAL, "vmm_memslot_alloc: size 0x%llx must be a non-zero "
					   "multiple of 4 KiB below 2^46",
				  (unsigned long long)size);
	/* NORESERVE: a 64 GiB guest with 10 MiB touched costs 10 MiB. */
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	if (mem == MAP_FAILED)
		return vmmi_error(-errno, "memslot '%s': cannot allocate 0x%llx bytes: %s",
				  name ? name : "", (unsigned long long)size, strerror(errno));
	ret = slot_add(vm, name, gpa, size, mem, flags, true);
	if (ret < 0) {
		munmap(mem, size);
		return ret;
	}
	if (hva)
		*hva = mem;
	return 0;
}

int vmm_memslot_alloc(struct vmm_vm *vm, const char *name, uint64_t gpa, uint64_t size, void **hva)
{
	return vmm_memslot_alloc_flags(vm, name, gpa, size, 0, hva);
}

/*
 * Keep vmm_load_elf()'s record in step with slot s's memory: with new_gpa,
 * the ranges inside s moved there with it; without, they are gone.
 */
static void loaded_follow(struct vmm_vm *vm, const struct vmmi_slot *s, const uint64_t *new_gpa)
{
	for (size_t i = vm->nloaded; i-- > 0;) {
		struct vmmi_loaded *l = &vm->loaded[i];

		if (l->gpa < s->gpa || l->gpa - s->gpa >= s->size)
			continue;
		if (new_gpa)
			l->gpa = *new_gpa + (l->gpa - s->gpa);
		else
			vm->loaded[i] = vm->loaded[--vm->nloaded];
	}
}

/* The slot that starts at gpa, for a change: NULL and an error if none does. */
static struct vmmi_slot *slot_at(struct vmm_vm *vm, uint64_t gpa)
{
	/* The table is the VM's own; find() returns const only for readers. */
	struct vmmi_slot *s = (struct vmmi_slot *)vmmi_slots_find(&vm->slots, gpa);

	if (!s || s->gpa != gpa) {
		vmmi_error(-ENOENT, "no memslot starts at 0x%llx", (unsigned long long)gpa);
		return NULL;
	}
	return s;
}

static int slot_remove_locked(struct vmm_vm *vm, uint64_t gpa)
{
	const struct vmmi_slot *s = slot_at(vm, gpa);
	struct vmmi_slot removed;
	int ret;

	if (!s)
		return -ENOENT;
	ret = vm->ops->slot_remove(vm, s);
	if (ret < 0)
		return ret;
	ret = vmmi_slots_remove(&vm->slots, gpa, &removed);
	if (ret < 0)
		return ret;
	/* No vCPU runs and no reader holds mem_lock: nothing can touch the memory now. */
	vmmi_slot_release(&removed);
	/* What vmm_load_elf() put there is gone with the slot: forget it. */
	loaded_follow(vm, &removed, NULL);
	return 0;
}


/*
 * The backend dropped a slot and could not take it back: forget it as well,
 * so that the table keeps saying what the guest sees.
 */
static void slot_lost(struct vmm_vm *vm, uint64_t gpa)
{
	struct vmmi_slot gone;

	if (vmmi_slots_remove(&vm->slots, gpa, &gone) < 0)
		return;
	vmmi_log(vm, VMM_LOG_ERROR, "memslot '%s' [0x%llx, 0x%llx) could not be restored and is gone",
		 gone.name, (unsigned long long)gone.gpa, (unsigned long long)(gone.gpa + gone.size));
	vmmi_slot_release(&gone);
	loaded_follow(vm, &gone, NULL);
}

static int slot_move_locked(struct vmm_vm *vm, uint64_t gpa, uint64_t new_gpa)
{
	const struct vmmi_window *w;
	struct vmmi_slot *slot, old;
	const struct vmmi_slot *s = slot_at(vm, gpa);
	int ret, undo;

	if (!s)
		return -ENOENT;
	if (new_gpa == gpa)
		return 0; /* nothing changes: no backend round trip */
	old = *s;
	ret = vmmi_slots_move(&vm->slots, gpa, new_gpa, &slot);
	if (ret < 0)
		return ret;
	/* Checked after the table's own checks, as in vmm_memslot_add(). */
	w = vmmi_bus_overlap(&vm->bus[0], new_gpa, old.size);
	if (w && !(old.flags & VMM_MEMSLOT_READONLY)) {
		ret = vmmi_error(-EEXIST,
				 "memslot '%s' moved to [0x%llx, 0x%llx) would overlap device '%s' [0x%llx, 0x%llx]",
				 old.name, (unsigned long long)new_gpa,
				 (unsigned long long)(new_gpa + old.size), w->dev->name,
				 (unsigned long long)w->base,
				 (unsigned long long)(w->base + (w->length - 1)));
		goto err_table;
	}
	/*
	 * Out at the old place, in at the new one, under the same id. KVM
	 * deleting the slot zaps every GPA->HPA translation made through it, so
	 * nothing of the old range survives; emu unmaps it and drops the code
	 * translated from it. The table already says new_gpa: both backends
	 * take what they unmap from old, not from the table.
	 */
	ret = vm->ops->slot_remove(vm, &old);
	if (ret < 0)
		goto err_table;
	ret = vm->ops->slot_add(vm, slot);
	if (ret < 0)
		goto err_backend;
	loaded_follow(vm, &old, &new_gpa);
	return 0;

err_backend:
	undo = vmmi_slots_move(&vm->slots, new_gpa, gpa, &slot);
	if (undo == 0 && vm->ops->slot_add(vm, slot) < 0)
		slot_lost(vm, gpa);
	return ret;
err_table:
	/* The old range is free again (the slot left it), so moving back cannot fail. */
	undo = vmmi_slots_move(&vm->slots, new_gpa, gpa, NULL);
	(void)undo;
	return ret;
}


static int slot_remap_locked(struct vmm_vm *vm, uint64_t gpa, void *new_hva)
{
	struct vmmi_slot *s = slot_at(vm, gpa), old;
	int ret;

	if (!s)
		return -ENOENT;
	if (!new_hva || ((uintptr_t)new_hva & VMMI_PAGE_MASK) ||
	    (uintptr_t)new_hva + (s->size - 1) < (uintptr_t)new_hva)
		return vmmi_error(-EINVAL,
				  "memslot '%s': new host memory %p must be non-NULL, 4 KiB aligned and not wrap",
				  s->name, new_hva);
	if ((uint8_t *)new_hva == s->hva)
		return 0;
	old = *s;
	/*
	 * KVM cannot change a slot's host address in place (it refuses
	 * anything but a flags change or a move), so delete and add again;
	 * deleting zaps the GPA->HPA translations of the old memory. Emu
	 * remaps the range and drops the code translated from it. The table
	 * does not change shape, so s stays valid.
	 */
	ret = vm->ops->slot_remove(vm, s);
	if (ret < 0)
		return ret;
	s->hva = new_hva;
	s->owned = false;
	ret = vm->ops->slot_add(vm, s);
	if (ret < 0) {
		*s = old;
		if (vm->ops->slot_add(vm, s) < 0)
			slot_lost(vm, gpa);
		return ret;
	}
	if (old.owned)
		munmap(old.hva, old.size);
	/* What vmm_load_elf() wrote is in the old memory, not in the guest any more. */
	loaded_follow(vm, &old, NULL);
	return 0;
}


static int dirty_log_locked(struct vmm_vm *vm, uint64_t gpa, bool enable)
{
	struct vmmi_slot *s = slot_at(vm, gpa);
	uint32_t old;
	int ret;

	if (!s)
		return -ENOENT;
	old = s->flags;
	if (!!(old & VMM_MEMSLOT_LOG_DIRTY) == enable)
		return 0;
	if (enable) {
		ret = dirty_alloc(s);
		if (ret < 0)
			return ret;
		s->flags |= VMM_MEMSLOT_LOG_DIRTY;
	} else {
		s->flags &= ~(uint32_t)VMM_MEMSLOT_LOG_DIRTY;
	}
	ret = vm->ops->slot_flags(vm, s, old);
	if (ret < 0)
		s->flags = old;
	/* Paused, and readers locked out: nobody marks the record while it goes. */
	if (!(s->flags & VMM_MEMSLOT_LOG_DIRTY)) {
		free((void *)s->dirty);
		s->dirty = NULL;
	}
	return ret;
}


/* One change of an existing slot; the public calls below only say which. */
enum slot_op { SLOT_REMOVE, SLOT_MOVE, SLOT_REMAP, SLOT_DIRTY_LOG };

static int slot_change(struct vmm_vm *vm, const char *what, enum slot_op op, uint64_t gpa,
		       uint64_t new_gpa, void *new_hva)
{
	int ret;

	if (!vm)
		return vmmi_error(-EINVAL, "%s: vm is NULL", what);
	ret = vmmi_change_begin(vm, what);
	if (ret < 0)
		return ret;
	switch (op) {
	case SLOT_REMOVE:
		ret = slot_remove_locked(vm, gpa);
		break;
	case SLOT_MOVE:
		ret = slot_move_locked(vm, gpa, new_gpa);
		break;
	case SLOT_REMAP:
		ret = slot_remap_locked(vm, gpa, new_hva);
		break;
	case SLOT_DIRTY_LOG:
		ret = dirty_log_locked(vm, gpa, new_gpa != 0);
		break;
	}
	vmmi_change_end(vm);
	return ret;
}

int vmm_memslot_remove(struct vmm_vm *vm, uint64_t gpa)
{
	return slot_change(vm, "vmm_memslot_remove", SLOT_REMOVE, gpa, 0, NULL);
}

int vmm_memslot_move(struct vmm_vm *vm, uint64_t gpa, uint64_t new_gpa)
{
	return slot_change(vm, "vmm_memslot_move", SLOT_MOVE, gpa, new_gpa, NULL);
}

int vmm_memslot_remap(struct vmm_vm *vm, uint64_t gpa, void *new_hva)
{
	return slot_change(vm, "vmm_memslot_remap", SLOT_REMAP, gpa, 0, new_hva);
}

int vmm_memslot_set_dirty_log(struct vmm_vm *vm, uint64_t gpa, int enable)
{
	return slot_change(vm, "vmm_memslot_set_dirty_log", SLOT_DIRTY_LOG, gpa, enable != 0, NULL);
}

int vmm_memslot_get_dirty(struct vmm_vm *vm, uint64_t gpa, uint64_t *bitmap, size_t words)
{
	const struct vmmi_slot *s;
	size_t need;
	int ret = 0;

	if (!vm || !bitmap)
		return vmmi_error(-EINVAL, "vmm_memslot_get_dirty: NULL argument");
	/* Readers' side: the slot cannot go while we read, and vCPUs keep running. */
	ret = vmmi_mem_read_begin(vm, "vmm_memslot_get_dirty");
	if (ret < 0)
		return ret;
	s = vmmi_slots_find(&vm->slots, gpa);
	if (!s || s->gpa != gpa) {
		ret = vmmi_error(-ENOENT, "no memslot starts at 0x%llx", (unsigned long long)gpa);
		goto out;
	}
	need = vmmi_dirty_words(s->size);
	if (!s->dirty) {
		ret = vmmi_error(-EINVAL, "memslot '%s': dirty logging is off", s->name);
		goto out;
	}
	if (words < need) {
		ret = vmmi_error(-EINVAL, "memslot '%s': the bitmap needs %zu words, not %zu", s->name,
				 need, words);
		goto out;
	}
	memset(bitmap, 0, words * sizeof(*bitmap));
	if (vm->ops->dirty_fetch) {
		ret = vm->ops->dirty_fetch(vm, s, bitmap, need);
		if (ret < 0)
			goto out;
	}
	/* Fetch-and-clear word by word: a bit set meanwhile lands here or next time. */
	for (size_t i = 0; i < need; i++)
		bitmap[i] |= atomic_exchange_explicit(&s->dirty[i], 0, memory_order_relaxed);
out:
	return vmmi_mem_read_end(vm, "vmm_memslot_get_dirty") ?: ret;
}

int vmm_memslot_count(const struct vmm_vm *vm)
{
	return vm ? (int)vm->slots.n : -EINVAL;
}

int vmm_memslot_get(const struct vmm_vm *vm, int i, struct vmm_memslot_info *info)
{
	const struct vmmi_slot *s;

	if (!vm || !info)
		return vmmi_error(-EINVAL, "vmm_memslot_get: NULL argument");
	if (i < 0 || (size_t)i >= vm->slots.n)
		return vmmi_error(-ENOENT, "no memslot %d (there are %zu)", i, vm->slots.n);
	s = &vm->slots.slots[i];
	info->gpa = s->gpa;
	info->size = s->size;
	info->hva = s->hva;
	info->name = s->name;
	info->flags = s->flags;
	return 0;
}

int vmm_gpa_to_hva(const struct vmm_vm *vm, uint64_t gpa, uint64_t len, void **hva)
{
	if (!vm || !hva)
		return vmmi_error(-EINVAL, "vmm_gpa_to_hva: NULL argument");
	return vmmi_slots_translate(&vm->slots, gpa, len, hva);
}

int vmm_guest_read(const struct vmm_vm *vm, uint64_t gpa, void *buf, uint64_t len)
{
	void *p;
	int ret;

	if (!vm || (!buf && len))
		return vmmi_error(-EINVAL, "vmm_guest_read: NULL argument");
	if (!len)
		return 0;
	ret = vmmi_mem_read_begin(vm, "vmm_guest_read");
	if (ret < 0)
		return ret;
	ret = vmmi_slots_translate(&vm->slots, gpa, len, &p);
	if (ret == 0)
		memcpy(buf, p, len);
	return vmmi_mem_read_end(vm, "vmm_guest_read") ?: ret;
}

int vmm_guest_write(struct vmm_vm *vm, uint64_t gpa, const void *buf, uint64_t len)
{
	const struct vmmi_slot *s;
	void *p;
	int ret;

	if (!vm || (!buf && len))
		return vmmi_error(-EINVAL, "vmm_guest_write: NULL argument");
	if (!len)
		return 0;
	ret = vmmi_mem_read_begin(vm, "vmm_guest_write");
	if (ret < 0)
		return ret;
	ret = vmmi_slots_translate(&vm->slots, gpa, len, &p);
	if (ret == 0) {
		memcpy(p, buf, len);
		s = vmmi_slots_find(&vm->slots, gpa);
		if (s->dirty)
			vmmi_dirty_mark(s->dirty, gpa - s->gpa, len);
	}
	return vmmi_mem_read_end(vm, "vmm_guest_write") ?: ret;
}

/* ---- vCPUs ---- */

int vmm_vcpu_create(struct vmm_vm *vm, unsigned index, struct vmm_vcpu **out)
{
	struct vmm_vcpu *vcpu;
	int ret;

	if (!vm)
		return vmmi_error(-EINVAL, "vmm_vcpu_create: vm is NULL");
	if (vmmi_vm_running(vm))
		return vmmi_error(-EBUSY, "vmm_vcpu_create: the VM is running");
	if (index >= VMM_GUEST_MAX_VCPUS)
		return vmmi_error(-EINVAL, "vCPU index %u is out of range (at most %u vCPUs)", index,
				  VMM_GUEST_MAX_VCPUS);
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

/* ---- running and stopping ---- */

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

int vmm_vcpu_run(struct vmm_vcpu *vcpu, struct vmm_exit *exit)
{
	struct vmm_vm *vm;
	sigset_t old_mask;
	bool locked;
	int ret;

	if (!vcpu || !exit)
		return vmmi_error(-EINVAL, "vmm_vcpu_run: NULL argument");
	vm = vcpu->vm;
	memset(exit, 0, sizeof(*exit));
	exit->vcpu = vcpu->index;
	ret = run_enter(vcpu, &old_mask);
	if (ret < 0) {
		vmmi_exit_set(exit, VMM_EXIT_ERROR, "%s", vmm_last_error());
		return ret;
	}
	tls_running_vm = vm;
	for (;;) {
		/* Wait out a layout change, then count as active until run() returns. */
		ret = VMMI_PT(pthread_mutex_lock(&vm->run_lock), "vmm_vcpu_run");
		if (ret < 0)
			break;
		while (vm->pausing && ret == 0)
			ret = VMMI_PT(pthread_cond_wait(&vm->run_cond, &vm->run_lock), "vmm_vcpu_run");
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
	tls_running_vm = NULL;
	run_leave(vcpu, &old_mask);
	if (ret < 0 && exit->reason == VMM_EXIT_NONE)
		vmmi_exit_set(exit, VMM_EXIT_ERROR, "%s", vmm_last_error());
	if (exit->reason == VMM_EXIT_STOPPED) {
		/* stop_requested was set under stop_lock before the kick. */
		locked = VMMI_PT_LOG(vm, pthread_mutex_lock(&vm->stop_lock), "vmm_vcpu_run") == 0;
		exit->exit_code = vm->exit_code;
		if (!exit->detail[0])
			snprintf(exit->detail, sizeof(exit->detail), "%s",
				 atomic_load(&vm->stop_requested) == VMMI_STOP_GUEST ?
					 "stop requested" :
					 "stopped because another vCPU stopped");
		if (locked)
			VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->stop_lock), "vmm_vcpu_run");
	}
	vm->ops->get_regs(vcpu, &exit->regs);
	vm->ops->get_sregs(vcpu, &exit->sregs);
	return ret;
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
	ret = cond_init_monotonic(&rs.cond, "vmm_vm_run");
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

int vmm_vm_get_stats(const struct vmm_vm *vm, struct vmm_vm_stats *stats)
{
	if (!vm || !stats)
		return vmmi_error(-EINVAL, "vmm_vm_get_stats: NULL argument");
	memset(stats, 0, sizeof(*stats));
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		const struct vmm_vcpu *v = vm->vcpus[i];

		if (!v)
			continue;
		stats->exits += atomic_load_explicit(&v->exits, memory_order_relaxed);
		stats->mmio_exits += atomic_load_explicit(&v->mmio_exits, memory_order_relaxed);
		stats->pio_exits += atomic_load_explicit(&v->pio_exits, memory_order_relaxed);
		stats->unclaimed += atomic_load_explicit(&v->unclaimed, memory_order_relaxed);
	}
	return 0;
}
