// SPDX-License-Identifier: BSD-3-Clause
/*
 * ACPI tables for an x86_64 guest (ACPI 6.4), laid out in one range of guest
 * RAM: RSDP, XSDT, FADT, MADT, DSDT, each 16-byte aligned. The sizes are
 * computed first (the DSDT's AML by a counting pass of the same builder), so
 * nothing is written unless the whole set fits. Multi-byte fields are
 * little-endian and written byte by byte; see docs/acpi.md for the choices.
 */
#include "arch/x86_64/acpi.h"
#include "devices/pci.h"

#include <errno.h>
#include <string.h>

#include "arch/x86_64/layout.h"

#define OEM_ID "LIBCVM" /* 6 bytes; OEM and creator revisions are 1 */
#define CREATOR_ID "LCVM"

#define HDR_LEN 36
#define RSDP_LEN 36
#define RSDP_V1_LEN 20 /* the part the first checksum covers */
#define RSDP_REVISION 2
#define XSDT_ENTRIES 2
#define XSDT_LEN (HDR_LEN + 8 * XSDT_ENTRIES)
#define XSDT_REVISION 1
#define FADT_LEN 276
#define FADT_REVISION 6
#define FADT_MINOR 4	   /* ACPI 6.4 */
#define MADT_REVISION 5	   /* ACPI 6.3 and later */
#define DSDT_REVISION 2	   /* 2 or more: AML integers are 64-bit */
#define MADT_FIXED_LEN 44  /* header, local APIC address, flags */
#define MADT_LAPIC_LEN 8   /* type 0: Processor Local APIC */
#define MADT_IOAPIC_LEN 12 /* type 1: I/O APIC */
#define MADT_ISO_LEN 10	   /* type 2: Interrupt Source Override */
#define MADT_NMI_LEN 6	   /* type 4: Local APIC NMI */

/* FADT field offsets (ACPI 6.4, table 5.9). */
#define FADT_DSDT 40
#define FADT_SCI_INT 46
#define FADT_CENTURY 108
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS 112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_MINOR_VERSION 131
#define FADT_X_DSDT 140
#define FADT_SLEEP_CONTROL_REG 244
#define FADT_SLEEP_STATUS_REG 256
#define FADT_HYPERVISOR_ID 268

#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PWR_BUTTON (1u << 4) /* no fixed-feature power button */
#define FADT_F_SLP_BUTTON (1u << 5) /* no fixed-feature sleep button */
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)

#define IAPC_LEGACY_DEVICES (1u << 0)
#define IAPC_8042 (1u << 1)
#define IAPC_VGA_NOT_PRESENT (1u << 2)
#define IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)
/* Bit 3, "MSI not supported", stays clear: it would make Linux disable MSI. */

#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1
#define I8042_CMD_PORT 0x64
#define I8042_RESET_VALUE 0xfe /* pulse the reset line */
#define CMOS_CENTURY_INDEX 0x32

#define MADT_PCAT_COMPAT 1 /* dual 8259 present */
#define MADT_LAPIC_ENABLED 1
#define MADT_NMI_ALL_CPUS 0xff

/* AML opcodes and prefixes (ACPI 6.4, 20.3). */
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_EXT_OP 0x5b
#define AML_DEVICE_OP 0x82 /* after AML_EXT_OP */
#define AML_ROOT_CHAR 0x5c

/* Resource descriptors (ACPI 6.4, 6.4). */
#define RES_IRQ_NOFLAGS 0x22
#define RES_IO 0x47
#define RES_END 0x79
#define RES_DWORD_ADDR 0x87
#define RES_WORD_ADDR 0x88
#define RES_TYPE_MEM 0
#define RES_TYPE_IO 1
#define RES_TYPE_BUS 2
#define RES_PRODUCER_FIXED 0x0c	 /* producer, positive decode, min and max fixed */
#define RES_IO_ENTIRE_RANGE 0x03 /* ISA and non-ISA ranges */
#define RES_MEM_RW 0x01		 /* read-write, non-cacheable */

static const struct {
	uint16_t base;
	uint8_t irq;
} com_ports[X86_ACPI_NR_COM] = { { 0x3f8, 4 }, { 0x2f8, 3 }, { 0x3e8, 4 }, { 0x2e8, 3 } };

/* Little-endian stores of any alignment. */
static void put_le(uint8_t *p, uint64_t v, unsigned int bytes)
{
	for (unsigned int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#define put16(p, v) put_le(p, v, 2)
#define put32(p, v) put_le(p, v, 4)
#define put64(p, v) put_le(p, v, 8)

/* The byte that makes @p[0..len) sum to zero when it is added in. */
static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

static void table_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev,
			 const char *table_id)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	t[9] = 0; /* checksum, set by table_finish() */
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, table_id, 8);
	put32(t + 24, 1);
	memcpy(t + 28, CREATOR_ID, 4);
	put32(t + 32, 1);
}

static void table_finish(uint8_t *t, uint32_t len)
{
	t[9] = checksum(t, len);
}

/*
 * AML output. With p == NULL only len advances: the counting pass that
 * sizes the DSDT runs the same code as the pass that writes it.
 */
struct aml {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};

static void aml_put(struct aml *a, const void *d, size_t n)
{
	if (a->p) {
		if (a->overflow || n > a->cap - a->len) {
			a->overflow = true;
			return;
		}
		memcpy(a->p + a->len, d, n);
	}
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_put(a, &b, 1);
}

static void aml_nameseg(struct aml *a, const char *seg)
{
	aml_put(a, seg, 4);
}

static void aml_integer(struct aml *a, uint32_t v)
{
	uint8_t b[5];

	if (v <= 1) {
		aml_byte(a, (uint8_t)v); /* ZeroOp, OneOp */
	} else if (v <= 0xff) {
		b[0] = AML_BYTE_PREFIX;
		b[1] = (uint8_t)v;
		aml_put(a, b, 2);
	} else if (v <= 0xffff) {
		b[0] = AML_WORD_PREFIX;
		put16(b + 1, (uint16_t)v);
		aml_put(a, b, 3);
	} else {
		b[0] = AML_DWORD_PREFIX;
		put32(b + 1, v);
		aml_put(a, b, 5);
	}
}

/* A PkgLength goes at the returned position once its body is written. */
static size_t aml_pkg_begin(const struct aml *a)
{
	return a->len;
}

/*
 * Insert the PkgLength before the body that starts at @start. It counts
 * itself: 1 byte up to 63, else 2-4 bytes, the first holding the count of
 * the following bytes in bits 7:6 and the low nibble of the length.
 */
static void aml_pkg_end(struct aml *a, size_t start)
{
	size_t body = a->len - start, total = 0;
	unsigned int n;

	for (n = 1; n <= 4; n++) {
		total = body + n;
		if (total < (n == 1 ? 0x40u : 1u << (4 + 8 * (n - 1))))
			break;
	}
	if (n > 4) {
		a->overflow = true;
		return;
	}
	if (a->p) {
		if (a->overflow || n > a->cap - a->len) {
			a->overflow = true;
			return;
		}
		memmove(a->p + start + n, a->p + start, body);
		if (n == 1) {
			a->p[start] = (uint8_t)total;
		} else {
			a->p[start] = (uint8_t)((n - 1) << 6 | (total & 0xf));
			for (unsigned int i = 1; i < n; i++)
				a->p[start + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
		}
	}
	a->len += n;
}

/* EisaId("PNP0501"): three letters in 5 bits each, then four hex digits. */
static void aml_eisaid(struct aml *a, const char *id)
{
	uint8_t b[5], d[4];

	for (unsigned int i = 0; i < 4; i++) {
		char c = id[3 + i];

		d[i] = (uint8_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	b[0] = AML_DWORD_PREFIX;
	b[1] = (uint8_t)((id[0] & 0x1f) << 2 | (id[1] & 0x1f) >> 3);
	b[2] = (uint8_t)((id[1] & 0x1f) << 5 | (id[2] & 0x1f));
	b[3] = (uint8_t)(d[0] << 4 | d[1]);
	b[4] = (uint8_t)(d[2] << 4 | d[3]);
	aml_put(a, b, 5);
}

static void aml_name_int(struct aml *a, const char *name, uint32_t v)
{
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, name);
	aml_integer(a, v);
}

/* Device (NAME) { Name (_HID, EisaId (hid)) ... }: close with aml_pkg_end(). */
static size_t aml_device_begin(struct aml *a, const char *name, const char *hid)
{
	size_t pkg;

	aml_byte(a, AML_EXT_OP);
	aml_byte(a, AML_DEVICE_OP);
	pkg = aml_pkg_begin(a);
	aml_nameseg(a, name);
	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, "_HID");
	aml_eisaid(a, hid);
	return pkg;
}

/*
 * Name (_CRS, ResourceTemplate () { ... }): a Buffer whose size, a word
 * constant, is filled in by aml_crs_end() with the end tag counted.
 */
static size_t aml_crs_begin(struct aml *a)
{
	uint8_t b[3] = { AML_WORD_PREFIX, 0, 0 };
	size_t pkg;

	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, "_CRS");
	aml_byte(a, AML_BUFFER_OP);
	pkg = aml_pkg_begin(a);
	aml_put(a, b, sizeof(b));
	return pkg;
}

static void aml_crs_end(struct aml *a, size_t pkg)
{
	uint8_t end[2] = { RES_END, 0 }; /* checksum 0: "treat as valid" */

	aml_put(a, end, sizeof(end));
	if (a->p && !a->overflow)
		put16(a->p + pkg + 1, (uint16_t)(a->len - pkg - 3));
	aml_pkg_end(a, pkg);
}

/* IO (Decode16, port, port, 1, len) */
static void res_io(struct aml *a, uint16_t port, uint8_t len)
{
	uint8_t d[8] = { RES_IO, 0x01 /* 16-bit decode */ };

	put16(d + 2, port);
	put16(d + 4, port);
	d[6] = 1;
	d[7] = len;
	aml_put(a, d, sizeof(d));
}

/* IRQNoFlags () { irq }: edge-triggered, active-high, ISA */
static void res_irq(struct aml *a, unsigned int irq)
{
	uint8_t d[3] = { RES_IRQ_NOFLAGS };

	put16(d + 1, (uint16_t)(1u << irq));
	aml_put(a, d, sizeof(d));
}

/* WordBusNumber / WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, ...) */
static void res_word(struct aml *a, uint8_t type, uint8_t type_flags, uint16_t min, uint16_t max)
{
	uint8_t d[16] = { RES_WORD_ADDR, 13, 0, type, RES_PRODUCER_FIXED, type_flags };

	put16(d + 8, min);
	put16(d + 10, max);
	put16(d + 14, (uint16_t)(max - min + 1));
	aml_put(a, d, sizeof(d));
}

/* DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, ...) */
static void res_dword_mem(struct aml *a, uint32_t min, uint32_t max)
{
	uint8_t d[26] = { RES_DWORD_ADDR, 23, 0, RES_TYPE_MEM, RES_PRODUCER_FIXED, RES_MEM_RW };

	put32(d + 10, min);
	put32(d + 14, max);
	put32(d + 22, max - min + 1);
	aml_put(a, d, sizeof(d));
}

/*
 * Name (_PRT, Package () { Package () { 0xSSSSFFFF, 0, 0, GSI }, ... }):
 * INTA# of each slot, wired as pci_intx_gsi() says (level, active low).
 */
static void dsdt_pci_prt(struct aml *a)
{
	size_t prt, entry;

	aml_byte(a, AML_NAME_OP);
	aml_nameseg(a, "_PRT");
	aml_byte(a, AML_PACKAGE_OP);
	prt = aml_pkg_begin(a);
	aml_byte(a, PCI_NR_SLOTS - 1);
	for (unsigned int slot = 1; slot < PCI_NR_SLOTS; slot++) {
		aml_byte(a, AML_PACKAGE_OP);
		entry = aml_pkg_begin(a);
		aml_byte(a, 4);
		aml_integer(a, slot << 16 | 0xffff); /* any function of the slot */
		aml_integer(a, 0);		     /* pin A */
		aml_integer(a, 0);		     /* no link device: a GSI */
		aml_integer(a, pci_intx_gsi(slot));
		aml_pkg_end(a, entry);
	}
	aml_pkg_end(a, prt);
}

static void dsdt_pci_root(struct aml *a, const struct x86_acpi_config *c)
{
	size_t dev = aml_device_begin(a, "PCI0", "PNP0A03");
	size_t crs;

	aml_name_int(a, "_UID", 0);
	crs = aml_crs_begin(a);
	res_word(a, RES_TYPE_BUS, 0, 0, 0);
	res_io(a, 0xcf8, 8); /* configuration mechanism #1, consumed */
	res_word(a, RES_TYPE_IO, RES_IO_ENTIRE_RANGE, 0x0000, 0x0cf7);
	res_word(a, RES_TYPE_IO, RES_IO_ENTIRE_RANGE, 0x0d00, 0xffff);
	res_dword_mem(a, (uint32_t)c->pci_mmio_start, (uint32_t)(c->pci_mmio_end - 1));
	aml_crs_end(a, crs);
	dsdt_pci_prt(a);
	aml_pkg_end(a, dev);
}

/*
 * The DSDT's definition block: Scope (\_SB) with the configured devices.
 * This is the place for later additions (a _PRT for PCI INTx, \_S5 with
 * sleep registers for power-off).
 */
static void dsdt_body(struct aml *a, const struct x86_acpi_config *c)
{
	size_t scope, dev, crs;

	aml_byte(a, AML_SCOPE_OP);
	scope = aml_pkg_begin(a);
	aml_byte(a, AML_ROOT_CHAR);
	aml_nameseg(a, "_SB_");

	for (unsigned int i = 0; i < X86_ACPI_NR_COM; i++) {
		char name[5] = { 'C', 'O', 'M', (char)('1' + i), 0 };

		if (!(c->serial_mask & (1u << i)))
			continue;
		dev = aml_device_begin(a, name, "PNP0501");
		aml_name_int(a, "_UID", i + 1);
		crs = aml_crs_begin(a);
		res_io(a, com_ports[i].base, 8);
		res_irq(a, com_ports[i].irq);
		aml_crs_end(a, crs);
		aml_pkg_end(a, dev);
	}
	if (c->i8042) {
		/* Keyboard port only: with no PNP0F13, Linux does not probe the aux port. */
		dev = aml_device_begin(a, "PS2K", "PNP0303");
		crs = aml_crs_begin(a);
		res_io(a, 0x60, 1);
		res_io(a, 0x64, 1);
		res_irq(a, 1);
		aml_crs_end(a, crs);
		aml_pkg_end(a, dev);
	}
	if (c->rtc) {
		/* No IRQ: the CMOS device raises none, and Linux then polls. */
		dev = aml_device_begin(a, "RTC_", "PNP0B00");
		crs = aml_crs_begin(a);
		res_io(a, 0x70, 2);
		aml_crs_end(a, crs);
		aml_pkg_end(a, dev);
	}
	if (c->pci_mmio_end)
		dsdt_pci_root(a, c);
	aml_pkg_end(a, scope);
	if (c->sleep_port) {
		/* Name (\_S5, Package () { 5, 0 }): SLP_TYPa for power-off. */
		size_t pkg;

		aml_byte(a, AML_NAME_OP);
		aml_byte(a, AML_ROOT_CHAR);
		aml_nameseg(a, "_S5_");
		aml_byte(a, AML_PACKAGE_OP);
		pkg = aml_pkg_begin(a);
		aml_byte(a, 2);
		aml_byte(a, AML_BYTE_PREFIX);
		aml_byte(a, X86_ACPI_S5_TYPE);
		aml_integer(a, 0);
		aml_pkg_end(a, pkg);
	}
}

static void write_rsdp(uint8_t *r, uint64_t xsdt)
{
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, OEM_ID, 6);
	r[15] = RSDP_REVISION;
	put32(r + 16, 0); /* no RSDT */
	put32(r + 20, RSDP_LEN);
	put64(r + 24, xsdt);
	r[8] = checksum(r, RSDP_V1_LEN);
	r[32] = checksum(r, RSDP_LEN);
}

static void write_xsdt(uint8_t *t, uint64_t fadt, uint64_t madt)
{
	table_header(t, "XSDT", XSDT_LEN, XSDT_REVISION, "CVMXSDT ");
	put64(t + HDR_LEN, fadt);
	put64(t + HDR_LEN + 8, madt);
	table_finish(t, XSDT_LEN);
}

static void write_fadt(uint8_t *t, const struct x86_acpi_config *c, uint64_t dsdt)
{
	uint16_t boot = IAPC_VGA_NOT_PRESENT;
	uint32_t flags = FADT_F_WBINVD | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON |
			 FADT_F_HW_REDUCED_ACPI;

	if (c->serial_mask || c->i8042 || c->rtc)
		boot |= IAPC_LEGACY_DEVICES;
	if (c->i8042)
		boot |= IAPC_8042;
	if (!c->rtc)
		boot |= IAPC_CMOS_RTC_NOT_PRESENT;

	table_header(t, "FACP", FADT_LEN, FADT_REVISION, "CVMFACP ");
	if (dsdt <= UINT32_MAX)
		put32(t + FADT_DSDT, (uint32_t)dsdt);
	put16(t + FADT_SCI_INT, c->sci_irq);
	if (c->rtc)
		t[FADT_CENTURY] = CMOS_CENTURY_INDEX;
	put16(t + FADT_IAPC_BOOT_ARCH, boot);
	if (c->i8042) {
		/* Linux's default reboot tries the ACPI reset register first. */
		flags |= FADT_F_RESET_REG_SUP;
		t[FADT_RESET_REG] = GAS_SYSTEM_IO;
		t[FADT_RESET_REG + 1] = 8; /* bit width */
		t[FADT_RESET_REG + 2] = 0; /* bit offset */
		t[FADT_RESET_REG + 3] = GAS_ACCESS_BYTE;
		put64(t + FADT_RESET_REG + 4, I8042_CMD_PORT);
		t[FADT_RESET_VALUE] = I8042_RESET_VALUE;
	}
	if (c->sleep_port) {
		/* Hardware-reduced sleep registers: how the guest powers off (\_S5). */
		for (unsigned int r = 0; r < 2; r++) {
			uint8_t *g = t + (r ? FADT_SLEEP_STATUS_REG : FADT_SLEEP_CONTROL_REG);

			g[0] = GAS_SYSTEM_IO;
			g[1] = 8;
			g[2] = 0;
			g[3] = GAS_ACCESS_BYTE;
			put64(g + 4, (uint64_t)c->sleep_port + r);
		}
	}
	put32(t + FADT_FLAGS, flags);
	t[FADT_MINOR_VERSION] = FADT_MINOR;
	put64(t + FADT_X_DSDT, dsdt);
	memcpy(t + FADT_HYPERVISOR_ID, "LIBCVM\0\0", 8);
	table_finish(t, FADT_LEN);
}

static void write_madt(uint8_t *t, uint32_t len, const struct x86_acpi_config *c)
{
	uint8_t *e = t + MADT_FIXED_LEN;

	table_header(t, "APIC", len, MADT_REVISION, "CVMAPIC ");
	put32(t + 36, (uint32_t)X86_ACPI_LAPIC_ADDR);
	put32(t + 40, MADT_PCAT_COMPAT);
	for (unsigned int i = 0; i < c->nr_vcpus; i++, e += MADT_LAPIC_LEN) {
		e[0] = 0;
		e[1] = MADT_LAPIC_LEN;
		e[2] = (uint8_t)i; /* ACPI processor UID */
		e[3] = (uint8_t)i; /* APIC id */
		put32(e + 4, MADT_LAPIC_ENABLED);
	}
	e[0] = 1;
	e[1] = MADT_IOAPIC_LEN;
	e[2] = (uint8_t)c->ioapic_id;
	put32(e + 4, (uint32_t)c->ioapic_addr);
	put32(e + 8, 0); /* GSI base */
	e += MADT_IOAPIC_LEN;

	/* ISA IRQ0 (the PIT) is wired to IOAPIC pin 2; flags 0: conforming to the bus. */
	e[0] = 2;
	e[1] = MADT_ISO_LEN;
	e[2] = 0;	 /* bus: ISA */
	e[3] = 0;	 /* source IRQ */
	put32(e + 4, 2); /* GSI; flags at e + 8 stay 0 */
	e += MADT_ISO_LEN;

	e[0] = 4;
	e[1] = MADT_NMI_LEN;
	e[2] = MADT_NMI_ALL_CPUS; /* flags at e + 3 stay 0: conforming */
	e[5] = 1;		  /* LINT1 */
	table_finish(t, len);
}

static int check_config(const struct x86_acpi_config *c, struct cvm_errbuf *err)
{
	if (c->nr_vcpus < 1 || c->nr_vcpus > X86_ACPI_MAX_VCPUS)
		return errf(err, -EINVAL, "ACPI: %u vCPUs, the MADT takes 1 to %u", c->nr_vcpus,
			    X86_ACPI_MAX_VCPUS);
	if (c->ioapic_id > 0xff)
		return errf(err, -EINVAL, "ACPI: IOAPIC id %u is not 8-bit", c->ioapic_id);
	if (!c->ioapic_addr || c->ioapic_addr > UINT32_MAX - 0xfff)
		return errf(err, -EINVAL,
			    "ACPI: IOAPIC address 0x%llx is not a 32-bit MMIO address",
			    (unsigned long long)c->ioapic_addr);
	if (c->sci_irq < 1 || c->sci_irq > 15 || c->sci_irq == 2)
		return errf(err, -EINVAL, "ACPI: SCI IRQ %u is not an ISA IRQ 1..15 other than 2",
			    c->sci_irq);
	if (c->serial_mask >> X86_ACPI_NR_COM)
		return errf(err, -EINVAL, "ACPI: serial port mask 0x%x names ports past COM%u",
			    c->serial_mask, X86_ACPI_NR_COM);
	if (c->pci_mmio_end) {
		uint64_t s = c->pci_mmio_start, e = c->pci_mmio_end;

		if (s >= e || e > (1ULL << 32) || (c->ioapic_addr >= s && c->ioapic_addr < e) ||
		    (X86_ACPI_LAPIC_ADDR >= s && X86_ACPI_LAPIC_ADDR < e))
			return errf(err, -EINVAL,
				    "ACPI: PCI MMIO window [0x%llx, 0x%llx) is empty, above 4 GiB "
				    "or covers the IOAPIC or LAPIC",
				    (unsigned long long)s, (unsigned long long)e);
	}
	return 0;
}

static uint64_t align16(uint64_t v)
{
	return (v + 15) & ~15ULL;
}

int x86_acpi_build(const struct guest_mem *m, const struct x86_acpi_config *c, uint64_t base,
		   uint64_t size, uint64_t *rsdp_addr, struct cvm_errbuf *err)
{
	struct aml a = { 0 };
	uint64_t xsdt, fadt, madt, dsdt, end;
	uint32_t madt_len, dsdt_len;
	uint8_t *host;
	int rc;

	if (!m || !c || !rsdp_addr)
		return errf(err, -EINVAL, "ACPI: no guest memory, configuration or result");
	rc = check_config(c, err);
	if (rc)
		return rc;
	if (base & 15)
		return errf(err, -EINVAL, "ACPI: table area 0x%llx is not 16-byte aligned",
			    (unsigned long long)base);

	dsdt_body(&a, c); /* counting pass */
	madt_len = MADT_FIXED_LEN + c->nr_vcpus * MADT_LAPIC_LEN + MADT_IOAPIC_LEN + MADT_ISO_LEN +
		   MADT_NMI_LEN;
	dsdt_len = (uint32_t)(HDR_LEN + a.len);
	xsdt = align16(base + RSDP_LEN);
	fadt = align16(xsdt + XSDT_LEN);
	madt = align16(fadt + FADT_LEN);
	dsdt = align16(madt + madt_len);
	end = dsdt + dsdt_len;
	if (end - base > size)
		return errf(err, -ENOSPC,
			    "ACPI: the tables need %llu bytes, more than the %llu at 0x%llx",
			    (unsigned long long)(end - base), (unsigned long long)size,
			    (unsigned long long)base);
	host = gmem_ptr(m, base, size);
	if (!host)
		return errf(err, -EFAULT, "ACPI: [0x%llx, 0x%llx) is not all guest RAM",
			    (unsigned long long)base, (unsigned long long)(base + size));

	memset(host, 0, size);
	a = (struct aml){ .p = host + (dsdt - base) + HDR_LEN, .cap = dsdt_len - HDR_LEN };
	dsdt_body(&a, c);
	if (a.overflow || a.len != a.cap)
		return errf(err, -EIO, "ACPI: DSDT size changed between passes (%zu, %zu)", a.len,
			    a.cap);
	table_header(host + (dsdt - base), "DSDT", dsdt_len, DSDT_REVISION, "CVMDSDT ");
	table_finish(host + (dsdt - base), dsdt_len);
	write_madt(host + (madt - base), madt_len, c);
	write_fadt(host + (fadt - base), c, dsdt);
	write_xsdt(host + (xsdt - base), fadt, madt);
	write_rsdp(host, xsdt);
	*rsdp_addr = base;
	return 0;
}

int x86_setup_acpi(const struct guest_mem *m, const struct x86_acpi_config *c, uint64_t *rsdp_addr,
		   struct cvm_errbuf *err)
{
	return x86_acpi_build(m, c, X86_ACPI_START, X86_ACPI_END - X86_ACPI_START, rsdp_addr, err);
}
