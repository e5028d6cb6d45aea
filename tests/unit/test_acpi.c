/* SPDX-License-Identifier: MIT */
/*
 * test_acpi.c - specification of the ACPI tables of a Linux boot (boot/acpi.c): read back as
 * Linux's ACPICA and arch/x86/kernel/acpi/boot.c read them, and the specs and buffers refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "boot/acpi.h"
#include "unit.h"

#define GPA	0xe0000ull
#define BUF_LEN 8192

static uint8_t buf[BUF_LEN];

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static struct vmmi_acpi_spec spec_for(unsigned ncpus)
{
	return (struct vmmi_acpi_spec){
	    .ncpus = ncpus,
	    .ioapic_id = (uint8_t)ncpus,
	    .ioapic_base = (uint32_t)VMM_GUEST_IOAPIC_BASE,
	    .lapic_base = (uint32_t)VMM_GUEST_LAPIC_BASE,
	    .nuarts = 1,
	    .uarts = {{.port = 0x3f8, .irq = 4}},
	};
}

/* A serial port device found in the DSDT. */
struct uart {
	char name[5];
	uint32_t hid;
	unsigned uid;
	uint16_t io_min, io_max;
	uint8_t io_len;
	uint16_t irq_mask;
};

/* What the parse found. */
struct parsed {
	size_t end; /* the offset past the last table's last byte */
	const uint8_t *fadt, *madt, *dsdt;
	unsigned xsdt_entries;
	/* the MADT */
	uint32_t lapic_addr, madt_flags;
	unsigned ncpus, nioapic, noverride, nnmi, nother;
	uint8_t cpu_uid[VMM_GUEST_MAX_VCPUS], cpu_id[VMM_GUEST_MAX_VCPUS];
	uint32_t cpu_flags[VMM_GUEST_MAX_VCPUS];
	uint8_t ioapic_id;
	uint32_t ioapic_addr, ioapic_gsi_base;
	uint8_t ovr_bus, ovr_source;
	uint32_t ovr_gsi;
	uint16_t ovr_flags;
	uint8_t nmi_uid, nmi_lint;
	uint16_t nmi_flags;
	/* the DSDT */
	unsigned nuarts;
	struct uart uarts[VMMI_ACPI_MAX_UARTS + 1];
};

/* Offset in buf of the table at gpa, after checking that the table header's length lies inside. */
static size_t table_at(uint64_t gpa, const char *sig, size_t min_len)
{
	size_t off, len;

	cr_assert_geq(gpa, GPA, "%s at 0x%llx, before the buffer", sig, (unsigned long long)gpa);
	cr_assert_leq(gpa - GPA, BUF_LEN - 36, "%s at 0x%llx, past the buffer", sig,
		      (unsigned long long)gpa);
	off = (size_t)(gpa - GPA);
	cr_assert(memcmp(buf + off, sig, 4) == 0, "'%.4s' where %s should be",
		  (const char *)buf + off, sig);
	len = get32(buf + off + 4);
	cr_assert_geq(len, min_len, "%s of %zu bytes", sig, len);
	cr_assert_leq(len, BUF_LEN - off, "%s of %zu bytes runs past the buffer", sig, len);
	cr_assert_eq(sum(buf + off, len), 0, "%s checksum off by %u", sig, sum(buf + off, len));
	cr_assert(memcmp(buf + off + 10, "LIBVMM", 6) == 0, "%s: OEM id '%.6s'", sig,
		  (const char *)buf + off + 10);
	cr_assert(memcmp(buf + off + 16, "LIBVMMPC", 8) == 0, "%s: OEM table id '%.8s'", sig,
		  (const char *)buf + off + 16);
	cr_assert(memcmp(buf + off + 28, "LVMM", 4) == 0, "%s: creator '%.4s'", sig,
		  (const char *)buf + off + 28);
	return off;
}

static void note_end(struct parsed *out, const uint8_t *table)
{
	size_t end = (size_t)(table - buf) + get32(table + 4);

	if (end > out->end)
		out->end = end;
}

/* The MADT's structures, walked as acpi_parse_entries_array() does. */
static void parse_madt(const uint8_t *m, struct parsed *out)
{
	const uint8_t *e = m + 44, *end = m + get32(m + 4);

	out->lapic_addr = get32(m + 36);
	out->madt_flags = get32(m + 40);
	while (e < end) {
		cr_assert_leq(2, (size_t)(end - e), "a structure header past the MADT's end");
		cr_assert_geq(e[1], 2, "a structure of length %u", e[1]);
		cr_assert_leq(e[1], (size_t)(end - e), "a structure runs past the MADT's end");
		switch (e[0]) {
		case 0:
			cr_assert_eq(e[1], 8, "Processor Local APIC of length %u", e[1]);
			cr_assert_lt(out->ncpus, VMM_GUEST_MAX_VCPUS, "too many local APICs");
			out->cpu_uid[out->ncpus] = e[2];
			out->cpu_id[out->ncpus] = e[3];
			out->cpu_flags[out->ncpus] = get32(e + 4);
			out->ncpus++;
			break;
		case 1:
			cr_assert_eq(e[1], 12, "I/O APIC of length %u", e[1]);
			out->nioapic++;
			out->ioapic_id = e[2];
			out->ioapic_addr = get32(e + 4);
			out->ioapic_gsi_base = get32(e + 8);
			break;
		case 2:
			cr_assert_eq(e[1], 10, "Interrupt Source Override of length %u", e[1]);
			out->noverride++;
			out->ovr_bus = e[2];
			out->ovr_source = e[3];
			out->ovr_gsi = get32(e + 4);
			out->ovr_flags = get16(e + 8);
			break;
		case 4:
			cr_assert_eq(e[1], 6, "Local APIC NMI of length %u", e[1]);
			out->nnmi++;
			out->nmi_uid = e[2];
			out->nmi_flags = get16(e + 3);
			out->nmi_lint = e[5];
			break;
		default:
			out->nother++;
		}
		e += e[1];
	}
	cr_assert_eq(e, end, "the last structure ends past the MADT");
}

/* An AML PkgLength at *p: its value (which counts its own bytes); *p moves past it. */
static size_t pkg_length(const uint8_t **p)
{
	const uint8_t *q = *p;
	unsigned follow = q[0] >> 6;
	size_t len = follow ? q[0] & 0x0f : q[0] & 0x3f;

	for (unsigned i = 0; i < follow; i++)
		len |= (size_t)q[1 + i] << (4 + 8 * i);
	*p = q + 1 + follow;
	return len;
}

/* A Name (seg, value)'s value at p (after NameOp and the seg): the integer; p moves past it. */
static uint32_t aml_integer(const uint8_t **p)
{
	const uint8_t *q = *p;

	switch (q[0]) {
	case 0x00: /* Zero */
	case 0x01: /* One */
		*p = q + 1;
		return q[0];
	case 0x0a:
		*p = q + 2;
		return q[1];
	case 0x0b:
		*p = q + 3;
		return get16(q + 1);
	case 0x0c:
		*p = q + 5;
		return get32(q + 1);
	}
	cr_assert_fail("AML data object 0x%02x, not an integer", q[0]);
	return 0;
}

/* _CRS's resource template: an IO descriptor, an IRQ descriptor, the end tag. */
static void parse_crs(const uint8_t *r, size_t len, struct uart *u)
{
	const uint8_t *end = r + len;
	bool ended = false;

	while (r < end && !ended) {
		unsigned type = (r[0] >> 3) & 0x0f, n = r[0] & 7;

		cr_assert_eq(r[0] & 0x80, 0, "a large resource descriptor 0x%02x", r[0]);
		cr_assert_leq(1 + n, (size_t)(end - r), "a descriptor past the buffer's end");
		switch (type) {
		case 0x8: /* IO */
			cr_assert_eq(n, 7);
			cr_expect_eq(r[1], 1, "IO decode %u, not Decode16", r[1]);
			u->io_min = get16(r + 2);
			u->io_max = get16(r + 4);
			u->io_len = r[7];
			break;
		case 0x4: /* IRQ, with or without flags */
			cr_assert(n == 2 || n == 3, "IRQ descriptor of %u bytes", n);
			u->irq_mask = get16(r + 1);
			break;
		case 0xf:
			cr_assert_eq(n, 1);
			ended = true;
			break;
		default:
			cr_assert_fail("resource descriptor type 0x%x", type);
		}
		r += 1 + n;
	}
	cr_assert(ended, "no end tag");
	cr_assert_eq(r, end, "bytes after the end tag");
}

/*
 * The DSDT's AML, for the subset the tables use: Device (\_SB_.XXXX)
 * { Name (_HID, integer) Name (_UID, integer) Name (_CRS, Buffer) }.
 */
static void parse_dsdt(const uint8_t *d, struct parsed *out)
{
	const uint8_t *p = d + 36, *end = d + get32(d + 4);

	while (p < end) {
		const uint8_t *dev_end, *q;
		struct uart *u;
		size_t len;

		cr_assert_lt(out->nuarts, VMMI_ACPI_MAX_UARTS + 1, "too many devices");
		u = &out->uarts[out->nuarts++];
		cr_assert(p[0] == 0x5b && p[1] == 0x82, "AML 0x%02x 0x%02x, not a Device", p[0],
			  p[1]);
		q = p + 2;
		len = pkg_length(&q);
		cr_assert_leq(len, (size_t)(end - (p + 2)), "a Device past the DSDT's end");
		dev_end = p + 2 + len;
		cr_assert(memcmp(q, "\\\x2e_SB_", 6) == 0, "a Device not in \\_SB_");
		memcpy(u->name, q + 6, 4);
		q += 10;
		while (q < dev_end) {
			char seg[5] = {0};

			cr_assert_eq(q[0], 0x08, "AML 0x%02x in a Device, not a Name", q[0]);
			memcpy(seg, q + 1, 4);
			q += 5;
			if (strcmp(seg, "_HID") == 0) {
				u->hid = aml_integer(&q);
			} else if (strcmp(seg, "_UID") == 0) {
				u->uid = aml_integer(&q);
			} else if (strcmp(seg, "_CRS") == 0) {
				const uint8_t *b;
				size_t blen, size;

				cr_assert_eq(q[0], 0x11, "_CRS is not a Buffer");
				b = q + 1;
				blen = pkg_length(&b);
				cr_assert_leq(blen, (size_t)(dev_end - (q + 1)),
					      "_CRS past the Device");
				size = aml_integer(&b);
				cr_assert_eq(size, (size_t)(q + 1 + blen - b),
					     "a Buffer's size %zu, its bytes %zu", size,
					     (size_t)(q + 1 + blen - b));
				parse_crs(b, size, u);
				q += 1 + blen;
			} else {
				cr_assert_fail("Name (%s)", seg);
			}
		}
		cr_assert_eq(q, dev_end, "a Device's last object runs past it");
		p = dev_end;
	}
	cr_assert_eq(p, end, "the last Device ends past the DSDT");
}

/*
 * Find and check the tables as Linux does: acpi_tb_validate_rsdp() (signature,
 * both checksums), the XSDT of a revision 2 RSDP, each table's checksum and
 * length (acpi_tb_verify_temp_table()), the FADT's X_DSDT, then the MADT.
 */
static void parse(struct parsed *out)
{
	size_t xsdt, off;

	memset(out, 0, sizeof(*out));
	cr_assert(memcmp(buf, "RSD PTR ", 8) == 0, "no RSD PTR signature");
	cr_assert_eq(sum(buf, 20), 0, "RSDP checksum off by %u", sum(buf, 20));
	cr_assert_eq(buf[15], 2, "RSDP revision %u", buf[15]);
	cr_assert_eq(get32(buf + 20), 36, "RSDP length %u", get32(buf + 20));
	cr_assert_eq(sum(buf, 36), 0, "RSDP extended checksum off by %u", sum(buf, 36));
	cr_assert(memcmp(buf + 9, "LIBVMM", 6) == 0, "RSDP OEM id '%.6s'", (const char *)buf + 9);
	cr_expect_eq(get32(buf + 16), 0, "an RSDT at 0x%x", get32(buf + 16));
	out->end = 36;

	xsdt = table_at(get64(buf + 24), "XSDT", 36);
	cr_assert_eq((get32(buf + xsdt + 4) - 36) % 8, 0, "XSDT entries of a partial address");
	out->xsdt_entries = (get32(buf + xsdt + 4) - 36) / 8;
	note_end(out, buf + xsdt);
	for (unsigned i = 0; i < out->xsdt_entries; i++) {
		uint64_t gpa = get64(buf + xsdt + 36 + 8 * i);

		cr_assert_geq(gpa, GPA, "XSDT entry %u at 0x%llx", i, (unsigned long long)gpa);
		off = (size_t)(gpa - GPA);
		cr_assert_leq(off, BUF_LEN - 36, "XSDT entry %u past the buffer", i);
		if (memcmp(buf + off, "FACP", 4) == 0) {
			cr_assert_null(out->fadt, "two FADTs");
			out->fadt = buf + table_at(gpa, "FACP", 276);
			note_end(out, out->fadt);
		} else if (memcmp(buf + off, "APIC", 4) == 0) {
			cr_assert_null(out->madt, "two MADTs");
			out->madt = buf + table_at(gpa, "APIC", 44);
			note_end(out, out->madt);
		} else {
			cr_assert_fail("XSDT entry %u: '%.4s'", i, (const char *)buf + off);
		}
	}
	cr_assert_not_null(out->fadt, "no FADT");
	cr_assert_not_null(out->madt, "no MADT");
	cr_assert_eq(get64(out->fadt + 140), get32(out->fadt + 40),
		     "X_DSDT 0x%llx, DSDT 0x%x: ACPICA warns and takes X_DSDT",
		     (unsigned long long)get64(out->fadt + 140), get32(out->fadt + 40));
	out->dsdt = buf + table_at(get64(out->fadt + 140), "DSDT", 36);
	note_end(out, out->dsdt);
	parse_madt(out->madt, out);
	parse_dsdt(out->dsdt, out);
}

static struct parsed built_spec(const struct vmmi_acpi_spec *spec)
{
	struct parsed p;

	memset(buf, 0xcc, sizeof(buf));
	OK(vmmi_acpi_build(buf, sizeof(buf), GPA, spec));
	parse(&p);
	cr_assert_eq(p.end, vmmi_acpi_size(spec), "tables end at %zu, the size says %zu", p.end,
		     vmmi_acpi_size(spec));
	cr_assert_eq(buf[p.end], 0xcc, "a byte past the size was written");
	return p;
}

static struct parsed built(unsigned ncpus)
{
	struct vmmi_acpi_spec spec = spec_for(ncpus);

	return built_spec(&spec);
}

TestSuite(acpi);

Test(acpi, the_rsdp_leads_through_the_xsdt_to_one_fadt_and_one_madt)
{
	struct parsed p = built(1);

	cr_expect_eq(p.xsdt_entries, 2);
	cr_expect_eq(p.madt[8], 5, "MADT revision %u", p.madt[8]);
}

Test(acpi, the_tables_do_not_overlap)
{
	struct parsed p = built(VMM_GUEST_MAX_VCPUS);
	const uint8_t *t[] = {buf + (get64(buf + 24) - GPA), p.fadt, p.dsdt, p.madt};

	for (size_t i = 0; i < 4; i++) {
		size_t a = (size_t)(t[i] - buf), a_end = a + get32(t[i] + 4);

		cr_expect_geq(a, 36, "'%.4s' overlaps the RSDP", (const char *)t[i]);
		for (size_t j = i + 1; j < 4; j++) {
			size_t b = (size_t)(t[j] - buf), b_end = b + get32(t[j] + 4);

			cr_expect(a_end <= b || b_end <= a, "'%.4s' and '%.4s' overlap",
				  (const char *)t[i], (const char *)t[j]);
		}
	}
}

Test(acpi, the_fadt_is_revision_6_hardware_reduced_and_points_at_the_dsdt)
{
	struct parsed p = built(2);

	cr_expect_eq(p.fadt[8], 6, "FADT revision %u", p.fadt[8]);
	cr_expect_eq(get32(p.fadt + 4), 276);
	cr_expect_eq(get32(p.fadt + 112), 1u << 20, "FADT flags 0x%x", get32(p.fadt + 112));
	cr_expect_eq(get64(p.fadt + 140), GPA + (size_t)(p.dsdt - buf));
	/* Nothing a hardware-reduced machine lacks: SCI, SMI port, PM1, PM timer, GPEs, FACS. */
	cr_expect_eq(get16(p.fadt + 46), 0, "SCI_INT %u", get16(p.fadt + 46));
	for (size_t off = 48; off < 88; off += 4)
		cr_expect_eq(get32(p.fadt + off), 0, "FADT field at %zu: 0x%x", off,
			     get32(p.fadt + off));
	cr_expect_eq(get64(p.fadt + 132), 0, "an X_FIRMWARE_CTRL");
	for (size_t off = 148; off < 268; off++)
		cr_expect_eq(p.fadt[off], 0, "FADT byte %zu (an X_ register block): 0x%x", off,
			     p.fadt[off]);
}

Test(acpi, the_fadt_boot_flags_say_no_8042_no_vga_no_cmos_rtc_and_msi_works)
{
	struct parsed p = built(1);
	uint16_t arch = get16(p.fadt + 109);

	cr_expect_eq(arch & (1u << 0), 0, "legacy devices (bit 0) set: 0x%x", arch);
	cr_expect_eq(arch & (1u << 1), 0, "an 8042 (bit 1): 0x%x", arch);
	cr_expect_neq(arch & (1u << 2), 0, "VGA not present (bit 2) clear: 0x%x", arch);
	cr_expect_eq(arch & (1u << 3), 0, "MSI not supported (bit 3): 0x%x", arch);
	cr_expect_neq(arch & (1u << 5), 0, "CMOS RTC not present (bit 5) clear: 0x%x", arch);
}

Test(acpi, the_dsdt_is_a_valid_table_even_without_serial_ports)
{
	struct vmmi_acpi_spec spec = spec_for(1);
	struct parsed p;

	spec.nuarts = 0;
	p = built_spec(&spec);
	cr_expect_eq(get32(p.dsdt + 4), 36, "an empty DSDT of %u bytes", get32(p.dsdt + 4));
	cr_expect_eq(p.dsdt[8], 2, "DSDT revision %u: below 2, AML integers have 32 bits",
		     p.dsdt[8]);
	cr_expect_eq(p.nuarts, 0);
}

Test(acpi, each_serial_port_is_a_pnp0501_device_with_its_ports_and_isa_irq)
{
	struct vmmi_acpi_spec spec = spec_for(1);
	struct parsed p;

	spec.nuarts = 4;
	spec.uarts[0] = (struct vmmi_acpi_uart){.port = 0x3f8, .irq = 4};
	spec.uarts[1] = (struct vmmi_acpi_uart){.port = 0x2f8, .irq = 3};
	spec.uarts[2] = (struct vmmi_acpi_uart){.port = 0x3e8, .irq = 15};
	spec.uarts[3] = (struct vmmi_acpi_uart){.port = 0xfff8, .irq = 1};
	p = built_spec(&spec);
	cr_assert_eq(p.nuarts, 4);
	for (unsigned i = 0; i < 4; i++) {
		char name[5] = {'C', 'O', 'M', (char)('1' + i), 0};
		const struct uart *u = &p.uarts[i];

		cr_expect_str_eq(u->name, name);
		cr_expect_eq(u->hid, 0x0105d041u, "%s: _HID 0x%08x, not EisaId (PNP0501)", name,
			     u->hid);
		cr_expect_eq(u->uid, i + 1, "%s: _UID %u", name, u->uid);
		cr_expect_eq(u->io_min, spec.uarts[i].port);
		cr_expect_eq(u->io_max, spec.uarts[i].port);
		cr_expect_eq(u->io_len, 8);
		cr_expect_eq(u->irq_mask, 1u << spec.uarts[i].irq, "%s: IRQ mask 0x%x", name,
			     u->irq_mask);
	}
}

Test(acpi, one_enabled_local_apic_per_vcpu_with_apic_id_and_processor_uid_alike)
{
	static const unsigned counts[] = {1, 2, 5, VMM_GUEST_MAX_VCPUS};

	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		struct parsed p = built(counts[c]);

		cr_assert_eq(p.ncpus, counts[c], "%u vCPUs: %u local APICs", counts[c], p.ncpus);
		for (unsigned i = 0; i < p.ncpus; i++) {
			cr_expect_eq(p.cpu_id[i], i, "structure %u: APIC id %u", i, p.cpu_id[i]);
			cr_expect_eq(p.cpu_uid[i], i, "structure %u: uid %u", i, p.cpu_uid[i]);
			cr_expect_eq(p.cpu_flags[i], 1, "APIC id %u: flags 0x%x", i,
				     p.cpu_flags[i]);
		}
	}
}

Test(acpi, the_madt_has_the_lapic_address_and_no_8259)
{
	struct parsed p = built(1);

	cr_expect_eq(p.lapic_addr, 0xfee00000u, "local APIC at 0x%x", p.lapic_addr);
	cr_expect_eq(p.madt_flags, 0, "MADT flags 0x%x: PCAT_COMPAT, an 8259", p.madt_flags);
	cr_expect_eq(p.nother, 0, "%u structures of other types", p.nother);
}

Test(acpi, one_ioapic_from_gsi_0_with_the_spec_id_and_base)
{
	struct parsed p = built(3);

	cr_expect_eq(p.nioapic, 1);
	cr_expect_eq(p.ioapic_id, 3);
	cr_expect_eq(p.ioapic_addr, 0xfec00000u);
	cr_expect_eq(p.ioapic_gsi_base, 0);
}

Test(acpi, isa_irq_0_is_overridden_to_gsi_2_with_the_bus_polarity_and_trigger)
{
	struct parsed p = built(1);

	cr_expect_eq(p.noverride, 1);
	cr_expect_eq(p.ovr_bus, 0);
	cr_expect_eq(p.ovr_source, 0);
	cr_expect_eq(p.ovr_gsi, 2);
	cr_expect_eq(p.ovr_flags, 0);
}

Test(acpi, every_processor_takes_the_nmi_on_lint1)
{
	struct parsed p = built(2);

	cr_expect_eq(p.nnmi, 1);
	cr_expect_eq(p.nmi_uid, 0xff);
	cr_expect_eq(p.nmi_lint, 1);
	cr_expect_eq(p.nmi_flags, 0);
}

Test(acpi, tables_at_the_top_of_4_gib_are_written_with_their_addresses)
{
	struct vmmi_acpi_spec spec = spec_for(1);
	uint64_t gpa = ((1ull << 32) - vmmi_acpi_size(&spec)) & ~15ull;

	memset(buf, 0xcc, sizeof(buf));
	OK(vmmi_acpi_build(buf, sizeof(buf), gpa, &spec));
	cr_expect_eq(get64(buf + 24) - gpa, 48, "XSDT at 0x%llx",
		     (unsigned long long)get64(buf + 24));
	cr_expect_eq(sum(buf, 36), 0);
}

Test(acpi, a_buffer_one_byte_short_is_refused_untouched)
{
	struct vmmi_acpi_spec spec = spec_for(4);
	size_t size = vmmi_acpi_size(&spec);

	memset(buf, 0xcc, sizeof(buf));
	cr_assert_eq(vmmi_acpi_build(buf, size - 1, GPA, &spec), -ENOSPC);
	cr_expect(strstr(vmm_last_error(), "in a buffer of"), "detail: %s", vmm_last_error());
	for (size_t i = 0; i < size; i++)
		cr_assert_eq(buf[i], 0xcc, "byte %zu written", i);
	OK(vmmi_acpi_build(buf, size, GPA, &spec));
}

/* spec is refused with -EINVAL and a detail containing what. */
static void expect_refused(const struct vmmi_acpi_spec *spec, uint64_t gpa, const char *what)
{
	memset(buf, 0xcc, sizeof(buf));
	cr_assert_eq(vmmi_acpi_build(buf, sizeof(buf), gpa, spec), -EINVAL);
	cr_expect(strstr(vmm_last_error(), what), "detail '%s' lacks '%s'", vmm_last_error(), what);
	cr_expect_eq(buf[0], 0xcc, "buf written");
}

Test(acpi, zero_vcpus_are_refused)
{
	struct vmmi_acpi_spec spec = spec_for(0);

	spec.ioapic_id = 1;
	expect_refused(&spec, GPA, "0 vCPUs: there must be 1 to 64");
}

Test(acpi, more_vcpus_than_the_vm_can_have_are_refused)
{
	struct vmmi_acpi_spec spec = spec_for(VMM_GUEST_MAX_VCPUS + 1);

	expect_refused(&spec, GPA, "65 vCPUs: there must be 1 to 64");
}

Test(acpi, an_ioapic_id_of_a_vcpu_or_of_all_is_refused)
{
	struct vmmi_acpi_spec spec = spec_for(4);

	spec.ioapic_id = 3;
	expect_refused(&spec, GPA, "I/O APIC id 3: ids 0 to 3");
	spec.ioapic_id = 0xff;
	expect_refused(&spec, GPA, "I/O APIC id 255");
}

Test(acpi, an_apic_base_off_a_page_or_at_0_is_refused)
{
	struct vmmi_acpi_spec spec = spec_for(1);

	spec.ioapic_base = 0xfec00010;
	expect_refused(&spec, GPA, "I/O APIC at 0xfec00010");
	spec.ioapic_base = 0;
	expect_refused(&spec, GPA, "I/O APIC at 0x0");
	spec = spec_for(1);
	spec.lapic_base = 0xfee00800;
	expect_refused(&spec, GPA, "local APIC at 0xfee00800");
	spec.lapic_base = 0;
	expect_refused(&spec, GPA, "local APIC at 0x0");
}

Test(acpi, serial_ports_past_4_or_on_bad_ports_or_irqs_are_refused)
{
	struct vmmi_acpi_spec spec = spec_for(1);

	spec.nuarts = VMMI_ACPI_MAX_UARTS + 1;
	expect_refused(&spec, GPA, "5 serial ports");
	spec = spec_for(1);
	spec.uarts[0].port = 0;
	expect_refused(&spec, GPA, "serial port 0 at port 0x0");
	spec.uarts[0].port = 0xfff9;
	expect_refused(&spec, GPA, "serial port 0 at port 0xfff9");
	spec = spec_for(1);
	spec.uarts[0].irq = 0;
	expect_refused(&spec, GPA, "serial port 0 on IRQ 0");
	spec.uarts[0].irq = 2;
	expect_refused(&spec, GPA, "serial port 0 on IRQ 2");
	spec.uarts[0].irq = 16;
	expect_refused(&spec, GPA, "serial port 0 on IRQ 16");
}

Test(acpi, a_gpa_off_16_bytes_or_ending_past_4_gib_is_refused)
{
	struct vmmi_acpi_spec spec = spec_for(1);
	uint64_t last = (1ull << 32) - vmmi_acpi_size(&spec);

	expect_refused(&spec, GPA + 8, "not 16-byte aligned");
	expect_refused(&spec, (last + 16) & ~15ull, "end past 4 GiB");
	expect_refused(&spec, UINT64_MAX & ~15ull, "end past 4 GiB");
}

Test(acpi, a_null_buf_or_spec_is_refused)
{
	struct vmmi_acpi_spec spec = spec_for(1);

	cr_expect_eq(vmmi_acpi_build(NULL, BUF_LEN, GPA, &spec), -EINVAL);
	cr_expect_eq(vmmi_acpi_build(buf, BUF_LEN, GPA, NULL), -EINVAL);
}
