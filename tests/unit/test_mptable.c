/* SPDX-License-Identifier: MIT */
/*
 * test_mptable.c - specification of the MP tables of a Linux boot (boot/mptable.c): read back as
 * Linux's arch/x86/kernel/mpparse.c reads them, and the specs and buffers they refuse.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "boot/mptable.h"
#include "unit.h"

#define GPA	0xf0000ull
#define BUF_LEN 4096

static uint8_t buf[BUF_LEN];

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static struct vmmi_mptable_spec spec_for(unsigned ncpus)
{
	return (struct vmmi_mptable_spec){
	    .ncpus = ncpus,
	    .cpu_signature = 0x00a00f11,
	    .cpu_features = 0x078bfbff,
	    .ioapic_id = (uint8_t)ncpus,
	    .ioapic_base = (uint32_t)VMM_GUEST_IOAPIC_BASE,
	    .ioapic_pins = VMM_GUEST_IOAPIC_PINS,
	};
}

/* What the parse found, entry by entry. */
struct parsed {
	size_t bytes; /* floating pointer + table, as their headers say */
	unsigned entries, ncpus, nbus, nioapic, nlint;
	uint8_t cpu_id[VMM_GUEST_MAX_VCPUS], cpu_flags[VMM_GUEST_MAX_VCPUS];
	uint32_t cpu_sig[VMM_GUEST_MAX_VCPUS], cpu_feat[VMM_GUEST_MAX_VCPUS];
	uint8_t cpu_ver[VMM_GUEST_MAX_VCPUS];
	uint8_t bus_id;
	char bus_type[7];
	uint8_t ioapic_id, ioapic_ver, ioapic_flags;
	uint32_t ioapic_addr;
	int pin_of_irq[256];	   /* -1: no I/O interrupt entry for the ISA IRQ */
	unsigned irq_entries[256]; /* how many entries each ISA IRQ has */
	uint8_t lint_type[2], lint_dest[2];
	unsigned lint_seen[2];
};

/*
 * Find and check the tables at buf (seen by the guest at GPA) as Linux does:
 * smp_scan_config() (signature, length 1, revision 1 or 4, checksum), then
 * smp_check_mpc() and smp_read_mpc(), which walks the entries by type until
 * the table's length and stops at a type it does not know.
 */
static void parse(const uint8_t *b, struct parsed *out)
{
	const uint8_t *mpc, *e, *end;
	uint32_t phys;
	uint16_t length;
	uint8_t last_type = 0;

	memset(out, 0, sizeof(*out));
	memset(out->pin_of_irq, -1, sizeof(out->pin_of_irq));
	cr_assert(memcmp(b, "_MP_", 4) == 0, "no _MP_ signature");
	cr_assert_eq(b[8], 1, "floating pointer length %u paragraphs", b[8]);
	cr_assert_eq(b[9], 4, "floating pointer spec revision %u", b[9]);
	cr_assert_eq(sum(b, 16), 0, "floating pointer checksum off by %u", sum(b, 16));
	cr_assert_eq(b[11], 0, "feature byte 1 is %u: a default configuration, no table", b[11]);
	phys = get32(b + 4);
	cr_assert_eq(phys, GPA + 16, "the table at 0x%x, not right after the pointer", phys);
	mpc = b + (phys - GPA);

	cr_assert(memcmp(mpc, "PCMP", 4) == 0, "no PCMP signature");
	length = get16(mpc + 4);
	cr_assert_geq(length, 44);
	cr_assert_leq(16 + (size_t)length, BUF_LEN);
	cr_assert_eq(mpc[6], 4, "table spec revision %u", mpc[6]);
	cr_assert_eq(sum(mpc, length), 0, "table checksum off by %u", sum(mpc, length));
	cr_assert(memcmp(mpc + 8, "LIBVMM  ", 8) == 0, "OEM id '%.8s'", (const char *)mpc + 8);
	cr_assert(memcmp(mpc + 16, "LIBVMM PC   ", 12) == 0, "product id '%.12s'",
		  (const char *)mpc + 16);
	cr_assert_eq(get32(mpc + 28), 0, "an OEM table");
	cr_assert_eq(get32(mpc + 36), 0xfee00000u, "local APIC at 0x%x", get32(mpc + 36));
	cr_assert_eq(get16(mpc + 40), 0, "extended table length %u", get16(mpc + 40));
	out->bytes = 16 + length;

	end = mpc + length;
	for (e = mpc + 44; e < end;) {
		size_t size = e[0] == 0 ? 20 : 8;

		cr_assert_leq(e[0], 4, "entry %u: unknown type %u", out->entries, e[0]);
		cr_assert_geq(e[0], last_type, "entry %u: type %u after type %u", out->entries,
			      e[0], last_type);
		cr_assert_leq(size, (size_t)(end - e), "entry %u runs past the table's end",
			      out->entries);
		last_type = e[0];
		switch (e[0]) {
		case 0:
			cr_assert_lt(out->ncpus, VMM_GUEST_MAX_VCPUS, "too many processors");
			out->cpu_id[out->ncpus] = e[1];
			out->cpu_ver[out->ncpus] = e[2];
			out->cpu_flags[out->ncpus] = e[3];
			out->cpu_sig[out->ncpus] = get32(e + 4);
			out->cpu_feat[out->ncpus] = get32(e + 8);
			out->ncpus++;
			break;
		case 1:
			out->nbus++;
			out->bus_id = e[1];
			memcpy(out->bus_type, e + 2, 6);
			break;
		case 2:
			out->nioapic++;
			out->ioapic_id = e[1];
			out->ioapic_ver = e[2];
			out->ioapic_flags = e[3];
			out->ioapic_addr = get32(e + 4);
			break;
		case 3:
			cr_expect_eq(e[1], 0, "I/O interrupt entry of type %u, not INT", e[1]);
			cr_expect_eq(get16(e + 2), 0, "I/O interrupt flags 0x%x", get16(e + 2));
			cr_expect_eq(e[4], out->bus_id, "I/O interrupt from bus %u", e[4]);
			cr_expect_eq(e[6], out->ioapic_id, "I/O interrupt to I/O APIC %u", e[6]);
			out->pin_of_irq[e[5]] = e[7];
			out->irq_entries[e[5]]++;
			break;
		case 4:
			cr_assert_leq(e[7], 1, "local interrupt on LINT%u", e[7]);
			cr_expect_eq(get16(e + 2), 0, "local interrupt flags 0x%x", get16(e + 2));
			out->lint_type[e[7]] = e[1];
			out->lint_dest[e[7]] = e[6];
			out->lint_seen[e[7]]++;
			out->nlint++;
			break;
		}
		e += size;
		out->entries++;
	}
	cr_assert_eq(e, end, "the last entry ends past the table");
	cr_assert_eq(get16(mpc + 34), out->entries, "header counts %u entries, the table has %u",
		     get16(mpc + 34), out->entries);
}

static struct parsed built(unsigned ncpus)
{
	struct vmmi_mptable_spec spec = spec_for(ncpus);
	struct parsed p;

	memset(buf, 0xcc, sizeof(buf));
	OK(vmmi_mptable_build(buf, sizeof(buf), GPA, &spec));
	parse(buf, &p);
	cr_assert_eq(p.bytes, vmmi_mptable_size(&spec), "wrote %zu bytes, the size says %zu",
		     p.bytes, vmmi_mptable_size(&spec));
	cr_assert_eq(buf[p.bytes], 0xcc, "a byte past the size was written");
	return p;
}

TestSuite(mptable);

Test(mptable, one_vcpu_tables_pass_linux_checks)
{
	struct parsed p = built(1);

	cr_expect_eq(p.ncpus, 1);
	cr_expect_eq(p.nbus, 1);
	cr_expect_eq(p.nioapic, 1);
	cr_expect_eq(p.nlint, 2);
}

Test(mptable, one_processor_entry_per_vcpu_and_only_vcpu_0_is_the_bsp)
{
	static const unsigned counts[] = {1, 2, 5, VMM_GUEST_MAX_VCPUS};

	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		struct parsed p = built(counts[c]);

		cr_assert_eq(p.ncpus, counts[c], "%u vCPUs: %u processor entries", counts[c],
			     p.ncpus);
		for (unsigned i = 0; i < p.ncpus; i++) {
			cr_expect_eq(p.cpu_id[i], i, "entry %u: APIC id %u", i, p.cpu_id[i]);
			cr_expect_eq(p.cpu_flags[i], i == 0 ? 3 : 1, "APIC id %u: flags %u", i,
				     p.cpu_flags[i]);
			cr_expect_eq(p.cpu_ver[i], 0x14, "APIC id %u: version 0x%x", i,
				     p.cpu_ver[i]);
			cr_expect_eq(p.cpu_sig[i], 0x00a00f11u);
			cr_expect_eq(p.cpu_feat[i], 0x078bfbffu);
		}
	}
}

Test(mptable, one_isa_bus_and_one_enabled_ioapic_with_the_spec_id_and_base)
{
	struct parsed p = built(2);

	cr_expect_eq(p.nbus, 1);
	cr_expect_eq(p.bus_id, 0);
	cr_expect_str_eq(p.bus_type, "ISA   ");
	cr_expect_eq(p.nioapic, 1);
	cr_expect_eq(p.ioapic_id, 2);
	cr_expect_eq(p.ioapic_ver, 0x11);
	cr_expect_eq(p.ioapic_flags, 1, "I/O APIC flags %u: not enabled", p.ioapic_flags);
	cr_expect_eq(p.ioapic_addr, 0xfec00000u);
}

Test(mptable, isa_irqs_reach_their_pins_with_the_timer_on_pin_2_and_no_cascade)
{
	struct parsed p = built(1);

	cr_expect_eq(p.pin_of_irq[0], 2, "IRQ 0 on pin %d", p.pin_of_irq[0]);
	cr_expect_eq(p.irq_entries[2], 0, "IRQ 2 (the cascade) has %u entries", p.irq_entries[2]);
	for (unsigned irq = 0; irq < 16; irq++) {
		if (irq == 2)
			continue;
		cr_expect_eq(p.irq_entries[irq], 1, "IRQ %u has %u entries", irq,
			     p.irq_entries[irq]);
		if (irq != 0)
			cr_expect_eq(p.pin_of_irq[irq], (int)irq, "IRQ %u on pin %d", irq,
				     p.pin_of_irq[irq]);
	}
	for (unsigned irq = 16; irq < 256; irq++)
		cr_expect_eq(p.irq_entries[irq], 0, "an entry for ISA IRQ %u", irq);
}

Test(mptable, lint0_takes_extint_and_lint1_nmi_on_every_local_apic)
{
	struct parsed p = built(3);

	cr_expect_eq(p.lint_seen[0], 1);
	cr_expect_eq(p.lint_seen[1], 1);
	cr_expect_eq(p.lint_type[0], 3, "LINT0 type %u, not ExtINT", p.lint_type[0]);
	cr_expect_eq(p.lint_type[1], 1, "LINT1 type %u, not NMI", p.lint_type[1]);
	cr_expect_eq(p.lint_dest[0], 0xff);
	cr_expect_eq(p.lint_dest[1], 0xff);
}

Test(mptable, a_buffer_one_byte_short_is_refused_untouched)
{
	struct vmmi_mptable_spec spec = spec_for(4);
	size_t size = vmmi_mptable_size(&spec);

	memset(buf, 0xcc, sizeof(buf));
	cr_assert_eq(vmmi_mptable_build(buf, size - 1, GPA, &spec), -ENOSPC);
	cr_expect(strstr(vmm_last_error(), "in a buffer of"), "detail: %s", vmm_last_error());
	for (size_t i = 0; i < size; i++)
		cr_assert_eq(buf[i], 0xcc, "byte %zu written", i);
	OK(vmmi_mptable_build(buf, size, GPA, &spec));
}

/* spec is refused with -EINVAL and a detail containing what. */
static void expect_refused(const struct vmmi_mptable_spec *spec, uint64_t gpa, const char *what)
{
	memset(buf, 0xcc, sizeof(buf));
	cr_assert_eq(vmmi_mptable_build(buf, sizeof(buf), gpa, spec), -EINVAL);
	cr_expect(strstr(vmm_last_error(), what), "detail '%s' lacks '%s'", vmm_last_error(), what);
	cr_expect_eq(buf[0], 0xcc, "buf written");
}

Test(mptable, zero_vcpus_are_refused)
{
	struct vmmi_mptable_spec spec = spec_for(0);

	spec.ioapic_id = 1;
	expect_refused(&spec, GPA, "0 vCPUs: there must be 1 to 64");
}

Test(mptable, more_vcpus_than_the_vm_can_have_are_refused)
{
	struct vmmi_mptable_spec spec = spec_for(VMM_GUEST_MAX_VCPUS + 1);

	expect_refused(&spec, GPA, "65 vCPUs: there must be 1 to 64");
}

Test(mptable, an_ioapic_without_the_16_isa_pins_or_with_more_than_24_is_refused)
{
	struct vmmi_mptable_spec spec = spec_for(1);

	spec.ioapic_pins = 15;
	expect_refused(&spec, GPA, "I/O APIC of 15 pins");
	spec.ioapic_pins = 25;
	expect_refused(&spec, GPA, "I/O APIC of 25 pins");
	spec.ioapic_pins = 16;
	OK(vmmi_mptable_build(buf, sizeof(buf), GPA, &spec));
}

Test(mptable, an_ioapic_id_of_a_vcpu_or_of_all_is_refused)
{
	struct vmmi_mptable_spec spec = spec_for(4);

	spec.ioapic_id = 3;
	expect_refused(&spec, GPA, "I/O APIC id 3: ids 0 to 3");
	spec.ioapic_id = 0xff;
	expect_refused(&spec, GPA, "I/O APIC id 255");
}

Test(mptable, an_ioapic_base_off_a_page_or_at_0_is_refused)
{
	struct vmmi_mptable_spec spec = spec_for(1);

	spec.ioapic_base = 0xfec00010;
	expect_refused(&spec, GPA, "I/O APIC at 0xfec00010");
	spec.ioapic_base = 0;
	expect_refused(&spec, GPA, "I/O APIC at 0x0");
}

Test(mptable, a_gpa_off_16_bytes_or_ending_past_4_gib_is_refused)
{
	struct vmmi_mptable_spec spec = spec_for(1);
	uint64_t last = (1ull << 32) - vmmi_mptable_size(&spec);

	expect_refused(&spec, GPA + 8, "not 16-byte aligned");
	expect_refused(&spec, (last + 16) & ~15ull, "end past 4 GiB");
	expect_refused(&spec, UINT64_MAX & ~15ull, "end past 4 GiB");
	OK(vmmi_mptable_build(buf, sizeof(buf), last & ~15ull, &spec));
}
