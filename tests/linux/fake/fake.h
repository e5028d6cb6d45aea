/* SPDX-License-Identifier: MIT */
/*
 * fake.h - the fake Linux kernel's contract with its tests (fake.S and C share it): the checks
 * it makes, numbered (the run's exit code is the first that failed, 0 if none), and where in
 * its image a test writes what the kernel must find (command line, initrd, vCPU count).
 */
#ifndef FAKE_KERNEL_H
#define FAKE_KERNEL_H

/*
 * The checks, in the order the kernel makes them: X(number, NAME, what must hold). The numbers
 * are the exit codes a failing check ends the run with; keep them stable, since reports quote
 * them.
 */
#define FAKE_CHECKS(X)                                                                             \
	X(1, ENTRY_ONCE, "only vCPU 0 enters the 64-bit entry, once")                              \
	X(2, CS, "CS is __BOOT_CS (0x10)")                                                         \
	X(3, DS, "DS is __BOOT_DS (0x18)")                                                         \
	X(4, ES, "ES is __BOOT_DS (0x18)")                                                         \
	X(5, SS, "SS is __BOOT_DS (0x18)")                                                         \
	X(6, IF, "RFLAGS.IF is clear")                                                             \
	X(7, LONG_MODE, "CR0.PE and CR0.PG, CR4.PAE and EFER.LMA are set")                         \
	X(8, GDT_CS, "the GDT's 0x10 is a present 4 GiB flat 64-bit code segment (execute/read)")  \
	X(9, GDT_DS, "the GDT's 0x18 is a present 4 GiB flat data segment (read/write)")           \
	X(10, TESTDEV, "the testdev's ID reads 'VMMT' at 0xfebf0000 (mapped, uncached MMIO)")      \
	X(11, BSP,                                                                                 \
	  "the entering vCPU is the BSP: IA32_APIC_BASE.BSP set, local APIC ID 0 (another vCPU "   \
	  "entering before vCPU 0 fails here, one entering after it fails 1)")                     \
	X(12, ZP_MAGIC, "RSI is a zero page: boot_flag 0xaa55 at 0x1fe, 'HdrS' at 0x202")          \
	X(13, ZP_HEADER,                                                                           \
	  "the zero page holds the image's setup header (version, loadflags, "                     \
	  "kernel_alignment, cmdline_size)")                                                       \
	X(14, LOADER, "type_of_loader (0x210) is 0xff")                                            \
	X(15, PLACE, "the kernel is loaded at a kernel_alignment multiple, at or above 1 MiB")     \
	X(16, CMDLINE,                                                                             \
	  "cmd_line_ptr (0x228, ext 0xc8) points at the expected NUL-terminated "                  \
	  "command line")                                                                          \
	X(17, CMDLINE_PLACE,                                                                       \
	  "the command line overlaps neither the kernel's init_size nor the "                      \
	  "zero page")                                                                             \
	X(18, INITRD,                                                                              \
	  "ramdisk_image/ramdisk_size (0x218/0x21c, ext 0xc0/0xc4) give the expected "             \
	  "initrd (size and first bytes), or 0/0 without one")                                     \
	X(19, INITRD_PLACE,                                                                        \
	  "the initrd is page-aligned, ends at or below initrd_addr_max and "                      \
	  "overlaps neither the kernel's init_size, the zero page nor the "                        \
	  "command line")                                                                          \
	X(20, E820_COUNT, "e820_entries (0x1e8) is 1..128")                                        \
	X(21, E820_FIRST, "the first e820 entry (0x2d0) is usable RAM from address 0")             \
	X(22, E820_ORDER, "the e820 entries are non-empty, sorted, do not wrap or overlap")        \
	X(23, E820_TESTDEV,                                                                        \
	  "an e820 entry of type reserved covers the testdev window "                              \
	  "[0xfebf0000, 0xfebf1000)")                                                              \
	X(24, E820_APICS,                                                                          \
	  "reserved e820 entries cover the I/O APIC (0xfec00000) and the local "                   \
	  "APIC (0xfee00000) pages")                                                               \
	X(25, E820_LEGACY, "a reserved e820 entry covers the legacy area [0x9fc00, 0x100000)")     \
	X(26, E820_USABLE,                                                                         \
	  "the kernel's init_size, the zero page, the command line and the "                       \
	  "initrd lie in usable e820 RAM")                                                         \
	X(27, IDENTITY,                                                                            \
	  "virtual = physical: the testdev's DMA checksum of the zero page, the "                  \
	  "kernel, the initrd and the last usable page below 4 GiB matches the "                   \
	  "CPU's reading")                                                                         \
	X(28, MP_FLOAT,                                                                            \
	  "the MP floating pointer '_MP_' at 0xf0000: length 1, revision 4, "                      \
	  "checksum 0")                                                                            \
	X(29, MP_TABLE,                                                                            \
	  "the MP configuration table 'PCMP' it points at: revision 4, checksum "                  \
	  "0, local APIC at 0xfee00000, known entry types within its length")                      \
	X(30, MP_CPUS,                                                                             \
	  "the MP table lists the expected vCPUs, enabled, APIC IDs 0..n-1, the BSP "              \
	  "flag on 0 only")                                                                        \
	X(31, MP_IOAPIC,                                                                           \
	  "the MP table lists one enabled I/O APIC at 0xfec00000 with ID = the "                   \
	  "vCPU count")                                                                            \
	X(32, EBDA, "the BDA's EBDA segment (0x40e) is 0x9fc0")                                    \
	X(33, AP_IDLE,                                                                             \
	  "vCPU 1 runs nothing before INIT and SIPI (the trampoline's count stays "                \
	  "0)")                                                                                    \
	X(34, AP_INIT, "vCPU 1 runs nothing after INIT alone")                                     \
	X(35, AP_SIPI,                                                                             \
	  "INIT, SIPI, SIPI starts vCPU 1 in real mode at the SIPI vector's page, "                \
	  "once")                                                                                  \
	X(36, ACPI_RSDP,                                                                           \
	  "acpi_rsdp_addr (0x070) points at an ACPI 2.0 RSDP in reserved e820 memory: "            \
	  "'RSD PTR ', both checksums 0, an XSDT")                                                 \
	X(37, ACPI_XSDT, "the XSDT: 'XSDT', checksum 0, a MADT ('APIC') among its tables")         \
	X(38, ACPI_MADT,                                                                           \
	  "the MADT: checksum 0, local APIC at 0xfee00000, the expected vCPUs' local APICs, "      \
	  "enabled, IDs 0..n-1, and one I/O APIC at 0xfec00000 with GSI base 0")
#define FAKE_CHECK_LAST 38

/* Where the run ends: the testdev the tests configure (mmio = 0xfebf0000, size = 0x1000). */
#define FAKE_TESTDEV_BASE 0xfebf0000
#define FAKE_TESTDEV_SIZE 0x1000

/*
 * The expectations block, at this offset in the protected-mode kernel (the flat binary):
 * the test writes what the kernel must find before it wraps the binary in a bzImage. Each
 * field is little-endian; the block ends at the 64-bit entry (0x200).
 */
#define FAKE_EXPECT_OFF	       0x100
#define FAKE_EXPECT_MAGIC      0x0 /* u32: FAKE_EXPECT_MAGIC_VALUE, written by fake.S */
#define FAKE_EXPECT_NCPUS      0x4 /* u32: vCPUs the MP table must list (1 or 2 and more) */
#define FAKE_EXPECT_INITRD_LEN 0x8 /* u32: the initrd's size in bytes; 0: no initrd */
#define FAKE_EXPECT_CMDLINE_SIZE                                                                   \
	0xc /* u32: the cmdline_size the image's header states (the zero page must say it) */
#define FAKE_EXPECT_INITRD_HEAD                                                                    \
	0x10 /* 16 bytes: its first bytes (the first min(16, size) are compared) */
#define FAKE_EXPECT_FLAGS   0x20 /* u32: FAKE_FLAG_* */
#define FAKE_EXPECT_CMDLINE 0x30 /* the command line and its NUL, at most FAKE_CMDLINE_MAX */
#define FAKE_EXPECT_END	    0x100
#define FAKE_CMDLINE_MAX    (FAKE_EXPECT_END - FAKE_EXPECT_CMDLINE - 1)
#define FAKE_EXPECT_MAGIC_VALUE                                                                    \
	0x58454b46 /* "FKEX": checked by the test, proving the block is where it thinks */

/*
 * Once every check passed, ask for a reboot as Linux does on a PC without ACPI (0xfe to the
 * keyboard controller, port 0x64) instead of writing 0 to the exit register.
 */
#define FAKE_FLAG_END_BY_RESET 0x1

#define FAKE_ENTRY_64 0x200 /* the 64-bit entry, from the load address (boot.rst) */

/* Setup header values the wrapper writes and the kernel finds again in the zero page. */
#define FAKE_HDR_VERSION	  0x020f
#define FAKE_HDR_KERNEL_ALIGNMENT 0x200000
#define FAKE_HDR_PREF_ADDRESS	  0x1000000
#define FAKE_HDR_CMDLINE_SIZE	  0x7ff /* the default; a test may state less */

/* The real-mode trampoline page vCPU 1 is started at (SIPI vector 0x90: 0x9000:0000). */
#define FAKE_TRAMPOLINE	     0x90000
#define FAKE_SIPI_VECTOR     0x90
#define FAKE_TRAMPOLINE_FLAG 0x100 /* offset of its u16 count in the page */

#endif /* FAKE_KERNEL_H */
