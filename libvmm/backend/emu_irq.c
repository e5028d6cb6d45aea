/* SPDX-License-Identifier: MIT */
/* emu_irq.c - the emu backend's interrupts: a local APIC per vCPU, MSIs, IPIs, HLT, the timer. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu.h"

/*
 * Each vCPU has a local APIC model (emu_lapic.c) behind its own lock,
 * apic.lock. Locks, outermost first: vm->irq.lock (the I/O APIC and
 * MSIs), evm->lock (the list of vCPUs and the timer thread), one
 * apic.lock (never two at once). The model's ops run inside a model call,
 * under its lock, so they only queue: IPIs go to the other vCPUs' models
 * and level EOIs to the I/O APIC (vmmi_irq_eoi()) once the lock is dropped.
 *
 * A message accepted by a vCPU's model sets ev->irq_ready and signals
 * apic.cond: a running vCPU sees the flag in its block hook and stops at
 * that block boundary to take the interrupt (emu.c), a halted one wakes.
 * The LAPIC timer runs on CLOCK_MONOTONIC: a halted vCPU sleeps until its
 * deadline; for running ones a thread per VM (started by the first armed
 * timer) sleeps until the earliest deadline and sets irq_ready, so the
 * block hook reads no clock.
 */

#define EMU_LAPIC_OFF_TPR 0x80u

uint64_t vmmi_emu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void emu_lock(struct emu_vcpu *ev)
{
	VMMI_PT_LOG(ev->vcpu->vm, pthread_mutex_lock(&ev->apic.lock), "emu: local APIC");
}

static void emu_unlock(struct emu_vcpu *ev)
{
	VMMI_PT_LOG(ev->vcpu->vm, pthread_mutex_unlock(&ev->apic.lock), "emu: local APIC");
}

/* ---- the model's ops: queue, under the model's lock ---- */

static void emu_op_ipi(void *opaque, uint32_t self_id, uint32_t icr_lo, uint8_t dest)
{
	struct emu_apic *a = &((struct emu_vcpu *)opaque)->apic;

	if (a->nipi < EMU_APIC_QUEUE)
		a->ipi[a->nipi++] = (struct emu_ipi){icr_lo, dest};
}

static void emu_op_eoi(void *opaque, uint8_t vector)
{
	struct emu_apic *a = &((struct emu_vcpu *)opaque)->apic;

	if (a->neoi < EMU_APIC_QUEUE)
		a->eoi[a->neoi++] = vector;
}

static const struct vmmi_lapic_ops emu_lapic_ops = {
    .ipi = emu_op_ipi,
    .eoi = emu_op_eoi,
};

/* ---- the timer thread ---- */

static void emu_wake_locked(struct emu_vcpu *ev)
{
	atomic_store_explicit(&ev->irq_ready, true, memory_order_release);
	VMMI_PT_LOG(ev->vcpu->vm, pthread_cond_signal(&ev->apic.cond), "emu: local APIC");
}

static void *emu_timer_main(void *arg)
{
	struct vmm_vm *vm = arg;
	struct emu_vm *evm = vm->be;

	VMMI_PT_LOG(vm, pthread_mutex_lock(&evm->lock), "emu: timer");
	while (!evm->timer_quit) {
		uint64_t now = vmmi_emu_now(), next = UINT64_MAX;

		for (unsigned i = 0; i < VMM_GUEST_MAX_VCPUS; i++) {
			struct emu_vcpu *ev = evm->vcpus[i];
			uint64_t d;

			if (!ev)
				continue;
			d = atomic_load(&ev->apic.deadline);
			if (d > now) {
				next = d < next ? d : next;
				continue;
			}
			/* Fired: the vCPU publishes its next deadline when it has ticked. */
			if (!atomic_compare_exchange_strong(&ev->apic.deadline, &d, UINT64_MAX))
				continue;
			emu_lock(ev);
			emu_wake_locked(ev);
			emu_unlock(ev);
		}
		if (next == UINT64_MAX) {
			VMMI_PT_LOG(vm, pthread_cond_wait(&evm->timer_cond, &evm->lock),
				    "emu: timer");
		} else {
			struct timespec ts = {.tv_sec = (time_t)(next / 1000000000ull),
					      .tv_nsec = (long)(next % 1000000000ull)};

			pthread_cond_timedwait(&evm->timer_cond, &evm->lock, &ts);
		}
	}
	VMMI_PT_LOG(vm, pthread_mutex_unlock(&evm->lock), "emu: timer");
	return NULL;
}

/* After a model call, without its lock: tell the timer thread about a new deadline. */
static void emu_publish(struct emu_vcpu *ev, uint64_t deadline)
{
	struct vmm_vm *vm = ev->vcpu->vm;
	struct emu_vm *evm = vm->be;
	uint64_t old = atomic_exchange(&ev->apic.deadline, deadline);

	if (deadline == old || deadline == UINT64_MAX)
		return;
	VMMI_PT_LOG(vm, pthread_mutex_lock(&evm->lock), "emu: timer");
	if (!evm->timer_on && !evm->timer_quit) {
		int err = pthread_create(&evm->timer, NULL, emu_timer_main, vm);

		if (err)
			vmmi_pthread_failed(vm, err, "pthread_create", "emu: LAPIC timer thread");
		else
			evm->timer_on = true;
	}
	VMMI_PT_LOG(vm, pthread_cond_signal(&evm->timer_cond), "emu: timer");
	VMMI_PT_LOG(vm, pthread_mutex_unlock(&evm->lock), "emu: timer");
}

/* ---- delivering messages to the models ---- */

/*
 * Deliver one message to the APICs it names: dest/logical unless
 * shorthand (2 all, 3 all but the sender) says otherwise; the sender
 * (an index, or -1 for an MSI) never receives it here. Lowest priority:
 * to the one named APIC with the lowest TPR (the first of equals).
 * Called with evm->lock held, no APIC lock.
 */
static void emu_send_locked(struct emu_vm *evm, int sender, unsigned shorthand, uint8_t dest,
			    bool logical, uint8_t vector, unsigned mode, bool level)
{
	int best = -1;
	uint32_t best_tpr = UINT32_MAX;

	for (unsigned i = 0; i < VMM_GUEST_MAX_VCPUS; i++) {
		struct emu_vcpu *ev = evm->vcpus[i];
		bool named;

		if (!ev || (int)i == sender)
			continue;
		emu_lock(ev);
		named = shorthand >= 2 || vmmi_lapic_match(&ev->apic.lapic, dest, logical);
		if (named && mode == 1) {
			uint32_t tpr =
			    vmmi_lapic_read(&ev->apic.lapic, EMU_LAPIC_OFF_TPR, vmmi_emu_now()) &
			    0xff;

			if (tpr < best_tpr) {
				best_tpr = tpr;
				best = (int)i;
			}
		} else if (named) {
			vmmi_lapic_accept(&ev->apic.lapic, vector, mode, level);
			if (mode == 4)
				atomic_store(&ev->nmi_ready, true);
			emu_wake_locked(ev);
		}
		emu_unlock(ev);
	}
	if (best >= 0) {
		struct emu_vcpu *ev = evm->vcpus[best];

		emu_lock(ev);
		vmmi_lapic_accept(&ev->apic.lapic, vector, mode, level);
		emu_wake_locked(ev);
		emu_unlock(ev);
	}
}

int vmmi_emu_msi(struct vmm_vm *vm, uint64_t addr, uint32_t data)
{
	struct emu_vm *evm = vm->be;
	int ret = VMMI_PT(pthread_mutex_lock(&evm->lock), "emu: MSI");

	if (ret < 0)
		return ret;
	emu_send_locked(evm, -1, 0, (uint8_t)(addr >> 12), addr & 4, (uint8_t)data, data >> 8 & 7,
			data & 0x8000);
	VMMI_PT_LOG(vm, pthread_mutex_unlock(&evm->lock), "emu: MSI");
	return 0;
}

/* What the model queued during a call: IPIs to the others, level EOIs to the I/O APIC. */
static void emu_flush(struct emu_vcpu *ev, const struct emu_ipi *ipi, unsigned nipi,
		      const uint8_t *eoi, unsigned neoi)
{
	struct vmm_vm *vm = ev->vcpu->vm;
	struct emu_vm *evm = vm->be;

	if (nipi && VMMI_PT_LOG(vm, pthread_mutex_lock(&evm->lock), "emu: IPI") == 0) {
		for (unsigned i = 0; i < nipi; i++)
			emu_send_locked(evm, (int)ev->vcpu->index, ipi[i].icr >> 18 & 3,
					ipi[i].dest, ipi[i].icr & 0x800, (uint8_t)ipi[i].icr,
					ipi[i].icr >> 8 & 7, false);
		VMMI_PT_LOG(vm, pthread_mutex_unlock(&evm->lock), "emu: IPI");
	}
	for (unsigned i = 0; i < neoi; i++)
		vmmi_irq_eoi(vm, eoi[i]);
}

/* Take the model's queues, under its lock. */
static void emu_take_queues(struct emu_vcpu *ev, struct emu_ipi *ipi, unsigned *nipi, uint8_t *eoi,
			    unsigned *neoi)
{
	*nipi = ev->apic.nipi;
	*neoi = ev->apic.neoi;
	memcpy(ipi, ev->apic.ipi, *nipi * sizeof(*ipi));
	memcpy(eoi, ev->apic.eoi, *neoi);
	ev->apic.nipi = ev->apic.neoi = 0;
}

/* ---- the vCPU side ---- */

bool vmmi_emu_lapic_access(struct emu_vcpu *ev, uint64_t addr, uint32_t size, bool is_write,
			   uint64_t *value)
{
	uint32_t off = (uint32_t)(addr - VMM_GUEST_LAPIC_BASE);
	struct emu_ipi ipi[EMU_APIC_QUEUE];
	uint8_t eoi[EMU_APIC_QUEUE];
	unsigned nipi, neoi;
	uint64_t now, deadline;

	if (addr - VMM_GUEST_LAPIC_BASE >= VMMI_LAPIC_PAGE_SIZE)
		return false;
	now = vmmi_emu_now();
	emu_lock(ev);
	if (!is_write) {
		/* A read inside one register's 4 bytes: its bytes from there (emu_lapic.h). */
		*value = (off & 3) + size > 4 ? 0 : vmmi_lapic_read(&ev->apic.lapic, off, now);
		if (size < 8)
			*value &= (1ull << (size * 8)) - 1;
		emu_unlock(ev);
		return true;
	}
	if (size == 4)
		vmmi_lapic_write(&ev->apic.lapic, off, (uint32_t)*value, now);
	if (vmmi_lapic_pending(&ev->apic.lapic) >= 0 || ev->apic.lapic.nmi_pending)
		atomic_store_explicit(&ev->irq_ready, true, memory_order_relaxed);
	deadline = vmmi_lapic_next_deadline(&ev->apic.lapic);
	emu_take_queues(ev, ipi, &nipi, eoi, &neoi);
	emu_unlock(ev);
	emu_publish(ev, deadline);
	emu_flush(ev, ipi, nipi, eoi, neoi);
	return true;
}

/*
 * The interrupt the vCPU takes now, if any: an NMI, or (with RFLAGS.IF)
 * the model's highest deliverable vector. 0 with *e filled, or -1 (none:
 * irq_ready is cleared then, under the lock, so no message is missed).
 */
static int emu_next_event(struct emu_vcpu *ev, bool intr_on, struct emu_event *e)
{
	struct vmmi_lapic *l = &ev->apic.lapic;
	struct emu_ipi ipi[EMU_APIC_QUEUE];
	uint8_t eoi[EMU_APIC_QUEUE];
	unsigned nipi, neoi;
	uint64_t deadline;
	int v, ret = -1;

	emu_lock(ev);
	atomic_store_explicit(&ev->irq_ready, false, memory_order_relaxed);
	vmmi_lapic_tick(l, vmmi_emu_now());
	l->init_pending = false; /* INIT is not modelled: see emu.c's differences */
	atomic_store_explicit(&ev->nmi_ready, false, memory_order_relaxed);
	if (l->nmi_pending) {
		l->nmi_pending = false;
		*e = (struct emu_event){.vector = 2, .kind = EMU_EVENT_EXT};
		ret = 0;
	} else if ((v = vmmi_lapic_pending(l)) >= 0) {
		if (intr_on) {
			*e = (struct emu_event){.vector = vmmi_lapic_ack(l, (uint8_t)v),
						.kind = EMU_EVENT_EXT};
			ret = 0;
		}
		/* Still pending (masked by IF): the block hook waits for IF. */
		if (!intr_on || vmmi_lapic_pending(l) >= 0)
			atomic_store_explicit(&ev->irq_ready, true, memory_order_relaxed);
	}
	deadline = vmmi_lapic_next_deadline(l);
	emu_take_queues(ev, ipi, &nipi, eoi, &neoi);
	emu_unlock(ev);
	emu_publish(ev, deadline);
	emu_flush(ev, ipi, nipi, eoi, neoi);
	return ret;
}

int vmmi_emu_take_irq(struct emu_vcpu *ev, struct vmm_exit *exit)
{
	struct emu_event e;
	uint64_t rflags = 0;

	if (uc_reg_read(ev->uc, UC_X86_REG_RFLAGS, &rflags) == UC_ERR_OK &&
	    emu_next_event(ev, rflags & EMU_RFLAGS_IF, &e) == 0)
		return vmmi_emu_deliver(ev, &e, exit);
	return 2;
}

int vmmi_emu_halt(struct emu_vcpu *ev)
{
	struct vmm_vm *vm = ev->vcpu->vm;
	struct vmmi_lapic *l = &ev->apic.lapic;
	uint64_t deadline;
	int ret;

	emu_lock(ev);
	for (;;) {
		vmmi_lapic_tick(l, vmmi_emu_now());
		deadline = vmmi_lapic_next_deadline(l);
		if (vmmi_lapic_pending(l) >= 0 || l->nmi_pending) {
			ret = 0;
			break;
		}
		if (atomic_load(&vm->stop_requested) || atomic_load(&vm->pause_req) ||
		    atomic_load(&ev->kicked)) {
			ret = 1;
			break;
		}
		if (deadline == UINT64_MAX) {
			VMMI_PT_LOG(vm, pthread_cond_wait(&ev->apic.cond, &ev->apic.lock),
				    "emu: hlt");
		} else {
			struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000000ull),
					      .tv_nsec = (long)(deadline % 1000000000ull)};

			pthread_cond_timedwait(&ev->apic.cond, &ev->apic.lock, &ts);
		}
	}
	emu_unlock(ev);
	emu_publish(ev, deadline);
	return ret;
}

void vmmi_emu_irq_kick(struct emu_vcpu *ev)
{
	emu_lock(ev);
	VMMI_PT_LOG(ev->vcpu->vm, pthread_cond_signal(&ev->apic.cond), "emu: kick");
	emu_unlock(ev);
}

int vmmi_emu_irq_reset(struct vmm_vcpu *vcpu)
{
	struct emu_vcpu *ev = emu_vcpu(vcpu);

	emu_lock(ev);
	vmmi_lapic_reset(&ev->apic.lapic);
	ev->apic.nipi = ev->apic.neoi = 0;
	ev->apic.halted = false;
	atomic_store(&ev->irq_ready, false);
	emu_unlock(ev);
	emu_publish(ev, UINT64_MAX);
	return 0;
}

/* ---- lifecycle ---- */

static int emu_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int ret = VMMI_PT(pthread_condattr_init(&a), "emu: interrupts");

	if (ret < 0)
		return ret;
	ret = VMMI_PT(pthread_condattr_setclock(&a, CLOCK_MONOTONIC), "emu: interrupts");
	if (ret == 0)
		ret = VMMI_PT(pthread_cond_init(c, &a), "emu: interrupts");
	pthread_condattr_destroy(&a);
	return ret;
}

int vmmi_emu_irq_vcpu_init(struct emu_vcpu *ev)
{
	int ret = VMMI_PT(pthread_mutex_init(&ev->apic.lock, NULL), "emu: local APIC");

	if (ret < 0)
		return ret;
	ret = emu_cond_init(&ev->apic.cond);
	if (ret < 0) {
		pthread_mutex_destroy(&ev->apic.lock);
		return ret;
	}
	ev->apic.ok = true;
	atomic_init(&ev->apic.deadline, UINT64_MAX);
	vmmi_lapic_init(&ev->apic.lapic, ev->vcpu->index, ev->vcpu->index == 0, &emu_lapic_ops, ev);
	return 0;
}

void vmmi_emu_irq_vcpu_fini(struct emu_vcpu *ev)
{
	if (!ev->apic.ok)
		return;
	VMMI_PT_LOG(ev->vcpu->vm, pthread_cond_destroy(&ev->apic.cond), "emu: local APIC");
	VMMI_PT_LOG(ev->vcpu->vm, pthread_mutex_destroy(&ev->apic.lock), "emu: local APIC");
	ev->apic.ok = false;
}

int vmmi_emu_irq_vm_init(struct emu_vm *evm)
{
	int ret = VMMI_PT(pthread_mutex_init(&evm->lock, NULL), "emu: VM");

	if (ret < 0)
		return ret;
	ret = emu_cond_init(&evm->timer_cond);
	if (ret < 0)
		pthread_mutex_destroy(&evm->lock);
	return ret;
}

void vmmi_emu_irq_vm_fini(struct vmm_vm *vm)
{
	struct emu_vm *evm = vm->be;

	VMMI_PT_LOG(vm, pthread_mutex_lock(&evm->lock), "emu: timer");
	evm->timer_quit = true;
	VMMI_PT_LOG(vm, pthread_cond_signal(&evm->timer_cond), "emu: timer");
	VMMI_PT_LOG(vm, pthread_mutex_unlock(&evm->lock), "emu: timer");
	if (evm->timer_on)
		VMMI_PT_LOG(vm, pthread_join(evm->timer, NULL), "emu: timer");
	evm->timer_on = false;
	VMMI_PT_LOG(vm, pthread_cond_destroy(&evm->timer_cond), "emu: VM");
	VMMI_PT_LOG(vm, pthread_mutex_destroy(&evm->lock), "emu: VM");
}

/* Publish or withdraw a vCPU in the list the timer thread and messages walk. */
void vmmi_emu_irq_set_vcpu(struct vmm_vm *vm, unsigned index, struct emu_vcpu *ev)
{
	struct emu_vm *evm = vm->be;

	VMMI_PT_LOG(vm, pthread_mutex_lock(&evm->lock), "emu: vCPU list");
	evm->vcpus[index] = ev;
	VMMI_PT_LOG(vm, pthread_mutex_unlock(&evm->lock), "emu: vCPU list");
}
