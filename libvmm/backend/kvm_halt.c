/* SPDX-License-Identifier: MIT */
/* kvm_halt.c - the kvm backend's halt watch: noticing a vCPU that halted with interrupts off. */
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "backend/kvm.h"

/*
 * guest.h promises that a vCPU which halts with RFLAGS.IF clear has ended
 * (VMM_EXIT_HLT), noticed within about 50 ms. With the local APICs in the
 * kernel, KVM does not return from KVM_RUN on HLT: it blocks the thread
 * until an interrupt can be taken, which with IF clear means never. Only a
 * signal gets the thread out, and only then can the run loop read the
 * vCPU's state (vmmi_kvm_halt_ended()).
 *
 * Why a watching thread rather than a timer per vCPU that sends the kick
 * signal every 50 ms: a timer would signal vCPUs that are busy in the
 * guest, or in a device callback on their thread, twenty times a second:
 * system calls there end with EINTR, an embedder's own handler on the kick
 * signal runs for no kick, and a guest that halts at once would wait the
 * whole period. KVM's per-vCPU binary statistics (KVM_GET_STATS_FD) say,
 * readable from any thread without stopping the vCPU, whether it is
 * blocked ("blocking") and how many HLTs it has executed ("halt_exits").
 * So one thread per VM looks, first soon after a vCPU enters run() and
 * then at doubling intervals, up to WATCH_BUSY_NS while the vCPU runs (a
 * run that ends in `cli; hlt` is not made much longer) and WATCH_MAX_NS
 * while it waits in a halt it was asked about, and signals only a vCPU
 * that is blocked in a halt it has not yet been asked about: a guest
 * waiting with IF set for its next interrupt is asked once per HLT, a
 * guest that runs is never signalled, and one that executes `cli; hlt` at
 * once is noticed after WATCH_FIRST_NS or so. Without the statistics (an
 * old kernel) the thread signals at every look, as a timer would.
 *
 * The signal is the VM's kick signal, but the watch does not set
 * immediate_exit: the run loop tells its EINTR from a kick's by that flag
 * (a kick stores it before it signals), looks at the vCPU and, unless it
 * has ended, enters KVM_RUN again; the guest does not notice.
 */

#define WATCH_FIRST_NS 20000ull	   /* the first look after run() starts */
#define WATCH_BUSY_NS  500000ull   /* the longest interval while the vCPU runs */
#define WATCH_MAX_NS   50000000ull /* ... while it waits in a halt: guest.h's "about 50 ms" */
#define WATCH_EOI_NS   1000000ull  /* the first interval while a level entry waits for its EOI */

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

void vmmi_kvm_watch_vcpu_init(struct kvm_vcpu *kv)
{
	struct kvm_stats_header h;
	size_t dsz;
	uint8_t *d = NULL;
	int fd;

	kv->stats_fd = -1;
	kv->blocking_at = kv->halts_at = -1;
	fd = ioctl(kv->fd, KVM_GET_STATS_FD, NULL);
	if (fd < 0)
		return;
	/* The kernel's own numbers, but checked as any input before they size a buffer. */
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) || h.name_size == 0 ||
	    h.name_size > 1024 || h.num_desc == 0 || h.num_desc > 4096)
		goto out;
	dsz = sizeof(struct kvm_stats_desc) + h.name_size;
	d = malloc(dsz * h.num_desc);
	if (!d || pread(fd, d, dsz * h.num_desc, h.desc_offset) != (ssize_t)(dsz * h.num_desc))
		goto out;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		const struct kvm_stats_desc *e = (const void *)(d + i * dsz);
		int64_t at = (int64_t)h.data_offset + e->offset;

		if (e->size != 1 || !memchr(e->name, 0, h.name_size))
			continue;
		if (strcmp(e->name, "blocking") == 0)
			kv->blocking_at = at;
		else if (strcmp(e->name, "halt_exits") == 0)
			kv->halts_at = at;
	}
out:
	free(d);
	if (kv->blocking_at >= 0)
		kv->stats_fd = fd;
	else
		close(fd);
}

void vmmi_kvm_watch_vcpu_fini(struct kvm_vcpu *kv)
{
	if (kv->stats_fd >= 0)
		close(kv->stats_fd);
	kv->stats_fd = -1;
}

static uint64_t stat_read(const struct kvm_vcpu *kv, int64_t at, bool *ok)
{
	uint64_t v = 0;

	*ok = at >= 0 && pread(kv->stats_fd, &v, sizeof(v), at) == (ssize_t)sizeof(v);
	return v;
}

/*
 * Look at one vCPU inside run(); called with watch.lock held (kv->thread is
 * in run()). eoi_wait: a level entry waits for its EOI, which KVM may owe
 * (vmmi_kvm_halt_ended()): a signal makes a running vCPU enter KVM_RUN
 * again, which raises it, and a halted one check for it. Returns whether
 * the vCPU waits in a halt (or is signalled about one); false if it runs.
 */
static bool look(struct kvm_vcpu *kv, int sig, bool eoi_wait)
{
	uint64_t blocking, halts;
	bool ok;

	if (kv->stats_fd >= 0) {
		blocking = stat_read(kv, kv->blocking_at, &ok);
		if (ok && !blocking) {
			if (eoi_wait)
				pthread_kill(kv->thread, sig);
			return false;
		}
		/* Read after "blocking": a count from before this halt would only ask twice. */
		halts = stat_read(kv, kv->halts_at, &ok);
		if (ok) {
			if (kv->poked_halts == halts + 1 && !eoi_wait)
				return true; /* asked about this halt already: IF was set */
			kv->poked_halts = halts + 1;
		}
	}
	/* A failure leaves the vCPU unasked until the next look: nothing to report it to. */
	pthread_kill(kv->thread, sig);
	return true;
}

/*
 * Does a level entry wait for its EOI, and how often to look meanwhile:
 * every WATCH_EOI_NS while EOIs come (a line the guest keeps servicing),
 * backing off to WATCH_MAX_NS while none does (an entry whose EOI never
 * comes: its vCPU ended, or the guest never EOIs), so that a stuck remote
 * IRR costs no more than a halt does.
 */
static bool eoi_pace(struct kvm_watch *w)
{
	uint64_t eois = atomic_load_explicit(&w->eois, memory_order_relaxed);

	if (!vmmi_kvm_eoi_waiting(w->vm)) {
		w->eoi_period_ns = WATCH_EOI_NS;
		return false;
	}
	if (eois != w->eois_seen)
		w->eoi_period_ns = WATCH_EOI_NS;
	else if (w->eoi_period_ns < WATCH_MAX_NS / 2)
		w->eoi_period_ns *= 2;
	else
		w->eoi_period_ns = WATCH_MAX_NS;
	w->eois_seen = eois;
	return true;
}

static void *watch_main(void *arg)
{
	struct kvm_watch *w = arg;

	/* Looks a few microseconds apart at first: not the default 50 us of timer slack. */
	prctl(PR_SET_TIMERSLACK, 1ul, 0ul, 0ul, 0ul);
	if (pthread_mutex_lock(&w->lock))
		return NULL;
	while (!w->quit) {
		uint64_t now = now_ns(), wake = UINT64_MAX;
		bool eoi_wait = false, looked = false;
		struct timespec ts;

		for (unsigned i = 0; i < VMM_GUEST_MAX_VCPUS; i++) {
			struct kvm_vcpu *kv = w->in[i];

			if (!kv)
				continue;
			if (kv->next_ns <= now) {
				if (!looked)
					eoi_wait = eoi_pace(w);
				looked = true;
				uint64_t cap =
				    look(kv, w->sig, eoi_wait) ? WATCH_MAX_NS : WATCH_BUSY_NS;

				kv->period_ns = kv->period_ns < cap / 2 ? kv->period_ns * 2 : cap;
				kv->next_ns = now + (eoi_wait && kv->period_ns > w->eoi_period_ns
							 ? w->eoi_period_ns
							 : kv->period_ns);
			}
			if (kv->next_ns < wake)
				wake = kv->next_ns;
		}
		w->wake_ns = wake;
		if (wake == UINT64_MAX) {
			pthread_cond_wait(&w->cond, &w->lock);
		} else {
			ts.tv_sec = (time_t)(wake / 1000000000ull);
			ts.tv_nsec = (long)(wake % 1000000000ull);
			pthread_cond_timedwait(&w->cond, &w->lock, &ts);
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int vmmi_kvm_watch_init(struct vmm_vm *vm)
{
	struct kvm_vm *k = vm->be;
	struct kvm_watch *w = &k->watch;
	pthread_condattr_t ca;
	int err;

	w->vm = vm;
	w->sig = vm->opts.kick_signal;
	w->eoi_period_ns = WATCH_EOI_NS;
	w->wake_ns = UINT64_MAX;
	err = pthread_mutex_init(&w->lock, NULL);
	if (err)
		return vmmi_error(-err, "kvm: halt watch: pthread_mutex_init: %s", strerror(err));
	err = pthread_condattr_init(&ca);
	if (!err) {
		err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		if (!err)
			err = pthread_cond_init(&w->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (err) {
		pthread_mutex_destroy(&w->lock);
		return vmmi_error(-err, "kvm: halt watch: condition variable: %s", strerror(err));
	}
	w->lock_ok = true;
	return 0;
}

void vmmi_kvm_watch_fini(struct kvm_vm *k)
{
	struct kvm_watch *w = &k->watch;

	if (!w->lock_ok)
		return;
	if (w->started) {
		VMMI_PT_LOG(NULL, pthread_mutex_lock(&w->lock), "kvm: halt watch");
		w->quit = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
		w->started = false;
	}
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	w->lock_ok = false;
}

/* The watching thread, with every signal blocked: the kick signal is for vCPU threads. */
static int watch_start(struct kvm_watch *w)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&w->thread, NULL, watch_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return vmmi_error(-err, "kvm: cannot start the halt watch thread: %s",
				  strerror(err));
	w->started = true;
	return 0;
}

int vmmi_kvm_watch_enter(struct vmm_vcpu *vcpu)
{
	struct kvm_vm *k = vcpu->vm->be;
	struct kvm_vcpu *kv = vcpu->be;
	struct kvm_watch *w = &k->watch;
	int ret = VMMI_PT(pthread_mutex_lock(&w->lock), "kvm: halt watch");

	if (ret < 0)
		return ret;
	if (!w->started)
		ret = watch_start(w);
	if (ret == 0) {
		kv->thread = pthread_self();
		kv->period_ns = WATCH_FIRST_NS;
		kv->next_ns = now_ns() + WATCH_FIRST_NS;
		kv->poked_halts = 0;
		w->in[vcpu->index] = kv;
		/* Wake the thread only if it would look later than this vCPU needs. */
		if (kv->next_ns < w->wake_ns) {
			w->wake_ns = kv->next_ns;
			pthread_cond_signal(&w->cond);
		}
	}
	VMMI_PT_LOG(vcpu->vm, pthread_mutex_unlock(&w->lock), "kvm: halt watch");
	return ret;
}

void vmmi_kvm_watch_leave(struct vmm_vcpu *vcpu)
{
	struct kvm_vm *k = vcpu->vm->be;
	struct kvm_watch *w = &k->watch;

	if (VMMI_PT_LOG(vcpu->vm, pthread_mutex_lock(&w->lock), "kvm: halt watch") < 0)
		return;
	w->in[vcpu->index] = NULL;
	VMMI_PT_LOG(vcpu->vm, pthread_mutex_unlock(&w->lock), "kvm: halt watch");
}
