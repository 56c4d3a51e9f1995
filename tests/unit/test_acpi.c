// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests of lib/arch/x86_64/acpi.c, reading the tables as an OS does: RSDP scan of
 * 0xE0000-0xFFFFF, XSDT -> FADT, MADT, X_DSDT -> DSDT, checksums and lengths, MADT
 * entries walked, the DSDT's AML decoded down to the resource descriptors.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#include "arch/x86_64/acpi.h"
#include "devices/pci.h"
#include "arch/x86_64/layout.h"
#include "core/mem.h"

#define MIB (1ULL << 20)
#define SCAN_START 0xe0000ULL /* where Linux looks for the RSDP without a pointer */
#define SCAN_END 0x100000ULL
#define MAX_DEVS 16

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

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static void make_mem(struct guest_mem *m)
{
	struct cvm_errbuf e = { "" };

	cr_assert_eq(gmem_create(m, 64 * MIB, &e), 0, "%s", e.msg);
}

/* The machine libcvm builds: every legacy device and a PCI bus. */
static struct x86_acpi_config pc_config(unsigned int nr_vcpus)
{
	return (struct x86_acpi_config){
		.nr_vcpus = nr_vcpus,
		.ioapic_addr = 0xfec00000,
		.ioapic_id = nr_vcpus, /* not 0, so that a lost id shows */
		.sci_irq = 9,
		.i8042 = true,
		.rtc = true,
		.serial_mask = 0xf,
		.pci_mmio_start = 0xc0000000,
		.pci_mmio_end = 0xfec00000,
		.sleep_port = 0x600,
	};
}

struct tables {
	uint64_t rsdp_addr, xsdt_addr, fadt_addr, madt_addr, dsdt_addr;
	const uint8_t *rsdp, *xsdt, *fadt, *madt, *dsdt;
};

/* As ACPICA's acpi_tb_scan_memory_for_rsdp(): 16-byte steps, signature, first checksum. */
static uint64_t scan_rsdp(const struct guest_mem *m, unsigned int *count)
{
	const uint8_t *bios = gmem_ptr(m, SCAN_START, SCAN_END - SCAN_START);
	uint64_t found = 0;

	cr_assert_not_null(bios);
	*count = 0;
	for (uint64_t off = 0; off + 36 <= SCAN_END - SCAN_START; off += 16) {
		if (memcmp(bios + off, "RSD PTR ", 8) || sum8(bios + off, 20))
			continue;
		if (!*count)
			found = SCAN_START + off;
		(*count)++;
	}
	return found;
}

static const uint8_t *table(const struct guest_mem *m, uint64_t addr, const char *sig, uint8_t rev)
{
	const uint8_t *t = gmem_ptr(m, addr, 36);
	uint32_t len;

	cr_assert_not_null(t, "%s at 0x%llx is not in RAM", sig, (unsigned long long)addr);
	cr_assert(memcmp(t, sig, 4) == 0, "table at 0x%llx is \"%.4s\", expected %s",
		  (unsigned long long)addr, (const char *)t, sig);
	len = get32(t + 4);
	cr_assert_geq(len, 36, "%s length %u", sig, len);
	t = gmem_ptr(m, addr, len);
	cr_assert_not_null(t, "%s [0x%llx, +%u) is not in RAM", sig, (unsigned long long)addr, len);
	cr_expect_eq(sum8(t, len), 0, "%s checksum: bytes sum to 0x%02x", sig, sum8(t, len));
	cr_expect_eq(t[8], rev, "%s revision %u, expected %u", sig, t[8], rev);
	cr_expect(memcmp(t + 10, "LIBCVM", 6) == 0, "%s OEM id \"%.6s\"", sig,
		  (const char *)t + 10);
	return t;
}

static void parse_from(const struct guest_mem *m, uint64_t rsdp_addr, struct tables *t)
{
	uint32_t len, n;
	uint64_t dsdt32;

	memset(t, 0, sizeof(*t));
	t->rsdp_addr = rsdp_addr;
	t->rsdp = gmem_ptr(m, rsdp_addr, 36);
	cr_assert_not_null(t->rsdp);
	cr_expect_eq(rsdp_addr % 16, 0, "RSDP at 0x%llx", (unsigned long long)rsdp_addr);
	cr_assert(memcmp(t->rsdp, "RSD PTR ", 8) == 0, "no RSDP signature");
	cr_expect_eq(sum8(t->rsdp, 20), 0, "RSDP checksum");
	cr_expect_eq(sum8(t->rsdp, 36), 0, "RSDP extended checksum");
	cr_expect_eq(t->rsdp[15], 2, "RSDP revision %u", t->rsdp[15]);
	cr_expect_eq(get32(t->rsdp + 20), 36, "RSDP length");
	cr_expect(memcmp(t->rsdp + 9, "LIBCVM", 6) == 0, "RSDP OEM id");

	t->xsdt_addr = get64(t->rsdp + 24);
	t->xsdt = table(m, t->xsdt_addr, "XSDT", 1);
	len = get32(t->xsdt + 4);
	cr_assert_eq((len - 36) % 8, 0, "XSDT length %u", len);
	n = (len - 36) / 8;
	cr_expect_eq(n, 2, "XSDT has %u entries", n);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = get64(t->xsdt + 36 + 8 * i);
		const uint8_t *h = gmem_ptr(m, a, 4);

		cr_assert_not_null(h, "XSDT entry %u: 0x%llx", i, (unsigned long long)a);
		if (!memcmp(h, "FACP", 4)) {
			cr_expect_null(t->fadt, "two FADTs");
			t->fadt_addr = a;
			t->fadt = table(m, a, "FACP", 6);
		} else if (!memcmp(h, "APIC", 4)) {
			cr_expect_null(t->madt, "two MADTs");
			t->madt_addr = a;
			t->madt = table(m, a, "APIC", 5);
		} else {
			cr_assert_fail("XSDT entry %u is \"%.4s\"", i, (const char *)h);
		}
	}
	cr_assert_not_null(t->fadt, "no FADT in the XSDT");
	cr_assert_not_null(t->madt, "no MADT in the XSDT");
	cr_expect_eq(get32(t->fadt + 4), 276, "FADT length %u", get32(t->fadt + 4));

	t->dsdt_addr = get64(t->fadt + 140); /* X_DSDT */
	dsdt32 = get32(t->fadt + 40);
	cr_expect(dsdt32 == 0 || dsdt32 == t->dsdt_addr, "DSDT 0x%llx and X_DSDT 0x%llx differ",
		  (unsigned long long)dsdt32, (unsigned long long)t->dsdt_addr);
	t->dsdt = table(m, t->dsdt_addr, "DSDT", 2);
}

/* Find the RSDP as Linux does, and follow it. */
static void parse(const struct guest_mem *m, uint64_t rsdp_addr, struct tables *t)
{
	unsigned int count;
	uint64_t found = scan_rsdp(m, &count);

	cr_assert_eq(count, 1, "found %u RSDPs in 0xE0000-0xFFFFF", count);
	cr_expect_eq(found, rsdp_addr, "RSDP found at 0x%llx, reported at 0x%llx",
		     (unsigned long long)found, (unsigned long long)rsdp_addr);
	parse_from(m, found, t);
}

static void check_fadt(const uint8_t *f, const struct x86_acpi_config *c)
{
	uint32_t flags = get32(f + 112);
	uint16_t boot = get16(f + 109);

	cr_expect(flags & (1u << 20), "HW_REDUCED_ACPI not set: flags 0x%x", flags);
	cr_expect(flags & (1u << 4), "a fixed power button is advertised");
	cr_expect(flags & (1u << 5), "a fixed sleep button is advertised");
	cr_expect_eq(f[131], 4, "FADT minor version %u", f[131]);
	cr_expect_eq(get16(f + 46), c->sci_irq, "SCI_INT %u", get16(f + 46));
	cr_expect_eq(!!(boot & 2), c->i8042, "IAPC_BOOT_ARCH 0x%x: 8042 bit", boot);
	cr_expect(boot & 4, "IAPC_BOOT_ARCH 0x%x: VGA not present is clear", boot);
	cr_expect(!(boot & 8), "IAPC_BOOT_ARCH 0x%x: MSI marked unsupported", boot);
	cr_expect_eq(!!(boot & 0x20), !c->rtc, "IAPC_BOOT_ARCH 0x%x: CMOS RTC bit", boot);
	cr_expect_eq(!!(boot & 1), c->serial_mask || c->i8042 || c->rtc,
		     "IAPC_BOOT_ARCH 0x%x: legacy devices bit", boot);
	cr_expect_eq(f[108], c->rtc ? 0x32 : 0, "CENTURY index 0x%x", f[108]);
	if (c->i8042) {
		cr_expect(flags & (1u << 10), "no RESET_REG_SUP with an 8042");
		cr_expect_eq(f[116], 1, "reset register space %u, not system I/O", f[116]);
		cr_expect_eq(f[117], 8, "reset register width %u", f[117]);
		cr_expect_eq(get64(f + 120), 0x64, "reset register at 0x%llx",
			     (unsigned long long)get64(f + 120));
		cr_expect_eq(f[128], 0xfe, "reset value 0x%x", f[128]);
	} else {
		cr_expect(!(flags & (1u << 10)), "RESET_REG_SUP without an 8042");
		cr_expect_eq(get64(f + 120), 0, "a reset register without an 8042");
	}
	/* Hardware-reduced: no FACS, SMI command port, PM1, PM timer or GPE blocks. */
	cr_expect_eq(get32(f + 36), 0, "FIRMWARE_CTRL");
	cr_expect_eq(get64(f + 132), 0, "X_FIRMWARE_CTRL");
	for (unsigned int off = 48; off < 88; off += 4)
		cr_expect_eq(get32(f + off), 0, "FADT dword at %u", off);
	for (unsigned int off = 148; off < 244; off++)
		cr_expect_eq(f[off], 0, "FADT byte %u (X_ PM/GPE blocks)", off);
	/* Sleep control (244) and status (256): byte-wide system I/O ports, or none. */
	for (unsigned int r = 0; r < 2; r++) {
		const uint8_t *g = f + 244 + 12 * r;

		if (!c->sleep_port) {
			for (unsigned int i = 0; i < 12; i++)
				cr_expect_eq(g[i], 0, "sleep register %u byte %u without a port", r,
					     i);
			continue;
		}
		cr_expect_eq(g[0], 1, "sleep register %u: space %u, not system I/O", r, g[0]);
		cr_expect_eq(g[1], 8, "sleep register %u: width %u", r, g[1]);
		cr_expect_eq(g[3], 1, "sleep register %u: access size %u", r, g[3]);
		cr_expect_eq(get64(g + 4), (uint64_t)c->sleep_port + r,
			     "sleep register %u at 0x%llx", r, (unsigned long long)get64(g + 4));
	}
	cr_expect(memcmp(f + 268, "LIBCVM", 6) == 0, "hypervisor vendor id");
}

static void check_madt(const uint8_t *madt, const struct x86_acpi_config *c)
{
	uint32_t len = get32(madt + 4), off;
	unsigned int nlapic = 0, nioapic = 0, niso0 = 0, nnmi = 0;

	cr_expect_eq(get32(madt + 36), 0xfee00000, "LAPIC address 0x%x", get32(madt + 36));
	cr_expect_eq(get32(madt + 40), 1, "MADT flags 0x%x: PCAT_COMPAT", get32(madt + 40));
	for (off = 44; off < len; off += madt[off + 1]) {
		const uint8_t *e = madt + off;

		cr_assert_leq(off + 2, len, "MADT entry header at %u past the end", off);
		cr_assert_geq(e[1], 2, "MADT entry at %u has length %u", off, e[1]);
		cr_assert_leq(off + e[1], len, "MADT entry at %u runs past the end", off);
		switch (e[0]) {
		case 0:
			cr_assert_eq(e[1], 8, "LAPIC entry length %u", e[1]);
			cr_expect_eq(e[2], nlapic, "LAPIC entry %u: UID %u", nlapic, e[2]);
			cr_expect_eq(e[3], nlapic, "LAPIC entry %u: APIC id %u", nlapic, e[3]);
			cr_expect_eq(get32(e + 4), 1, "LAPIC entry %u: flags 0x%x", nlapic,
				     get32(e + 4));
			nlapic++;
			break;
		case 1:
			cr_assert_eq(e[1], 12, "IOAPIC entry length %u", e[1]);
			cr_expect_eq(e[2], c->ioapic_id, "IOAPIC id %u", e[2]);
			cr_expect_eq(get32(e + 4), c->ioapic_addr, "IOAPIC at 0x%x", get32(e + 4));
			cr_expect_eq(get32(e + 8), 0, "IOAPIC GSI base %u", get32(e + 8));
			nioapic++;
			break;
		case 2:
			cr_assert_eq(e[1], 10, "override entry length %u", e[1]);
			cr_expect_eq(e[2], 0, "override bus %u is not ISA", e[2]);
			cr_expect_neq(e[3], c->sci_irq,
				      "an SCI override with hardware-reduced ACPI");
			if (e[3] == 0) {
				cr_expect_eq(get32(e + 4), 2, "IRQ0 -> GSI %u", get32(e + 4));
				cr_expect_eq(get16(e + 8), 0, "IRQ0 override flags 0x%x",
					     get16(e + 8));
				niso0++;
			}
			break;
		case 4:
			cr_assert_eq(e[1], 6, "LAPIC NMI entry length %u", e[1]);
			cr_expect_eq(e[2], 0xff, "LAPIC NMI for UID %u, not all", e[2]);
			cr_expect_eq(e[5], 1, "LAPIC NMI on LINT%u", e[5]);
			nnmi++;
			break;
		default:
			cr_assert_fail("unexpected MADT entry type %u at %u", e[0], off);
		}
	}
	cr_expect_eq(off, len, "MADT entries end at %u, table at %u", off, len);
	cr_expect_eq(nlapic, c->nr_vcpus, "%u LAPIC entries for %u vCPUs", nlapic, c->nr_vcpus);
	cr_expect_eq(nioapic, 1, "%u IOAPIC entries", nioapic);
	cr_expect_eq(niso0, 1, "%u IRQ0 overrides", niso0);
	cr_expect_eq(nnmi, 1, "%u LAPIC NMI entries", nnmi);
}

/* A decoded PkgLength: value and bytes used; the encoding must be the shortest. */
static uint32_t pkglen(const uint8_t *p, unsigned int *nbytes)
{
	unsigned int n = (p[0] >> 6) + 1;
	uint32_t v = p[0] & 0x0f;

	*nbytes = n;
	if (n == 1)
		return p[0] & 0x3f;
	cr_assert_eq(p[0] & 0x30, 0, "multi-byte PkgLength 0x%02x has bits 5:4 set", p[0]);
	for (unsigned int i = 1; i < n; i++)
		v |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	cr_expect(v >= 0x40 && (n == 2 || v >= 1u << (4 + 8 * (n - 2))),
		  "PkgLength %u in %u bytes, not the fewest", v, n);
	return v;
}

#define DESC_LEN 200
#define APPEND(d, ...) snprintf((d) + strlen(d), DESC_LEN - strlen(d), __VA_ARGS__)

/* Resource descriptors, as " io:3f8/8 irq:10 wio:0-cf7 mem:c0000000-febfffff ..." */
static void describe_crs(const uint8_t *p, size_t len, char *d)
{
	for (size_t off = 0;;) {
		cr_assert_lt(off, len, "_CRS without an end tag: %s", d);
		if (p[off] & 0x80) { /* large: 0x88 Word, 0x87 DWord address space */
			uint16_t l = get16(p + off + 1);
			static const char *const word[] = { "wmem", "wio", "bus" };

			cr_assert_leq(off + 3 + l, len, "large descriptor overruns: %s", d);
			if (p[off] == 0x88 && l == 13 && p[off + 3] <= 2) {
				uint16_t lo = get16(p + off + 8), hi = get16(p + off + 10);

				cr_expect_eq(get16(p + off + 14), (uint16_t)(hi - lo + 1));
				APPEND(d, " %s:%x-%x", word[p[off + 3]], lo, hi);
			} else if (p[off] == 0x87 && l == 23 && p[off + 3] == 0) {
				uint32_t lo = get32(p + off + 10), hi = get32(p + off + 14);

				cr_expect_eq(get32(p + off + 22), hi - lo + 1);
				APPEND(d, " mem:%x-%x", lo, hi);
			} else {
				cr_assert_fail("large descriptor 0x%02x: %s", p[off], d);
			}
			cr_expect_eq(p[off + 4], 0x0c, "not a fixed producer window: %s", d);
			off += 3u + l;
			continue;
		}
		unsigned int type = (p[off] >> 3) & 0xf, l = p[off] & 7;

		cr_assert_leq(off + 1 + l, len, "small descriptor overruns: %s", d);
		if (type == 0xf) {
			cr_expect_eq(off + 2, len, "bytes after the end tag: %s", d);
			return;
		} else if (type == 8 && l == 7) {
			cr_expect_eq(get16(p + off + 2), get16(p + off + 4), "IO min != max: %s",
				     d);
			APPEND(d, " io:%x/%u", get16(p + off + 2), p[off + 7]);
		} else if (type == 4 && l == 2) { /* IRQNoFlags */
			APPEND(d, " irq:%x", get16(p + off + 1));
		} else {
			cr_assert_fail("small descriptor 0x%02x: %s", p[off], d);
		}
		off += 1u + l;
	}
}

/* An AML integer (ZeroOp, OneOp, Byte/Word/DWord prefix); advances *off. */
static uint32_t aml_int(const uint8_t *p, size_t len, size_t *off)
{
	uint8_t op = p[*off];
	unsigned int n = op == 0x0a ? 1 : op == 0x0b ? 2 : op == 0x0c ? 4 : 0;
	uint32_t v = op <= 1 ? op : 0;

	cr_assert(op <= 1 || n, "AML integer opcode 0x%02x", op);
	cr_assert_leq(*off + 1 + n, len, "AML integer overruns");
	for (unsigned int i = 0; i < n; i++)
		v |= (uint32_t)p[*off + 1 + i] << (8 * i);
	*off += 1 + n;
	return v;
}

/*
 * Name (_PRT, Package () { Package () { addr, pin, 0, gsi }... }) after a
 * _CRS: every slot's INTA# must go where pci_intx_gsi() wires it.
 */
static void describe_prt(const uint8_t *p, size_t len, char *d)
{
	unsigned int nb, count;
	size_t off = 6, end;

	cr_assert(len > 7 && !memcmp(p, "\x08_PRT\x12", 6), "%s: no _PRT after _CRS", d);
	end = off + pkglen(p + off, &nb);
	cr_assert_eq(end, len, "%s: _PRT does not end the device", d);
	off += nb;
	count = p[off++];
	for (unsigned int i = 0; i < count; i++) {
		size_t e_end;

		cr_assert(off < end && p[off] == 0x12, "%s: _PRT entry %u is no Package", d, i);
		off++;
		e_end = off + pkglen(p + off, &nb);
		off += nb;
		cr_assert_eq(p[off++], 4, "%s: _PRT entry %u has not 4 elements", d, i);
		uint32_t addr = aml_int(p, e_end, &off), pin = aml_int(p, e_end, &off);
		uint32_t src = aml_int(p, e_end, &off), gsi = aml_int(p, e_end, &off);

		cr_assert_eq(off, e_end, "%s: _PRT entry %u length", d, i);
		cr_assert_eq(addr & 0xffff, 0xffff, "%s: entry %u not for all functions", d, i);
		cr_assert_eq(pin, 0);
		cr_assert_eq(src, 0, "GSI routing, no link device");
		cr_assert_eq(gsi, pci_intx_gsi(addr >> 16), "%s: slot %u INTA# -> %u", d,
			     addr >> 16, gsi);
	}
	cr_assert_eq(off, end, "%s: _PRT count %u", d, count);
	APPEND(d, " prt:%u", count);
}

/* Device (NAME) { Name (_HID, EisaId ()) [Name (_UID, n)] Name (_CRS, Buffer) [_PRT] } */
static void describe_device(const uint8_t *p, size_t len, char *d)
{
	unsigned int nb, off = 14;
	size_t size;

	cr_assert_geq(len, 20);
	cr_assert(memcmp(p + 4, "\x08_HID\x0c", 6) == 0, "%.4s: no _HID EisaId first", p);
	snprintf(d, DESC_LEN, "%.4s hid:%02x%02x%02x%02x", p, p[10], p[11], p[12], p[13]);
	if (!memcmp(p + off, "\x08_UID", 5)) {
		off += 5;
		cr_assert(p[off] <= 1 || p[off] == 0x0a, "%s: _UID encoding 0x%x", d, p[off]);
		APPEND(d, " uid:%u", p[off] <= 1 ? p[off] : p[off + 1]);
		off += p[off] <= 1 ? 1 : 2;
	}
	cr_assert(off + 6 < len && !memcmp(p + off, "\x08_CRS\x11", 6), "%s: no _CRS buffer", d);
	off += 6;
	size_t crs_end = off + pkglen(p + off, &nb);

	cr_assert_leq(crs_end, len, "%s: _CRS overruns the device", d);
	off += nb;
	cr_assert(p[off] == 0x0a || p[off] == 0x0b, "%s: buffer size prefix 0x%02x", d, p[off]);
	size = p[off] == 0x0a ? p[off + 1] : get16(p + off + 1);
	off += p[off] == 0x0a ? 2 : 3;
	cr_assert_eq(off + size, crs_end, "%s: buffer size %zu for %zu bytes", d, size,
		     crs_end - off);
	describe_crs(p + off, size, d);
	if (crs_end != len)
		describe_prt(p + crs_end, len - crs_end, d);
}

/* Scope (\_SB) { Device ... }: the whole definition block, one description per device. */
static unsigned int describe_dsdt(const uint8_t *dsdt, char devs[][DESC_LEN], bool *s5_found)
{
	uint32_t len = get32(dsdt + 4) - 36, scope_len;
	const uint8_t *p = dsdt + 36;
	unsigned int nb, n = 0;
	size_t off;

	*s5_found = false;
	cr_assert_gt(len, 6, "empty DSDT");
	cr_assert_eq(p[0], 0x10, "DSDT does not start with a Scope");
	scope_len = pkglen(p + 1, &nb);
	cr_assert_leq(1 + scope_len, len, "Scope PkgLength %u, %u bytes follow", scope_len,
		      len - 1);
	if (1 + scope_len < len) {
		/* After the Scope, only Name (\_S5_, Package () { 5, 0 }). */
		static const uint8_t s5[] = { 0x08, '\\', '_',	'S',  '5',  '_',
					      0x12, 0x05, 0x02, 0x0a, 0x05, 0x00 };

		cr_assert_eq(len - 1 - scope_len, sizeof(s5), "%u bytes after the Scope",
			     len - 1 - scope_len);
		cr_assert(memcmp(p + 1 + scope_len, s5, sizeof(s5)) == 0,
			  "not \\_S5 after the Scope");
		*s5_found = true;
		len = 1 + scope_len;
	}
	cr_assert(memcmp(p + 1 + nb, "\\_SB_", 5) == 0, "Scope is not \\_SB_");
	for (off = 1 + nb + 5; off < len; n++) {
		uint32_t dlen;

		cr_assert(off + 3 <= len && p[off] == 0x5b && p[off + 1] == 0x82,
			  "no Device at DSDT offset %zu", off);
		dlen = pkglen(p + off + 2, &nb);
		cr_assert_leq(off + 2 + dlen, len, "Device at %zu overruns the Scope", off);
		cr_assert_lt(n, MAX_DEVS);
		describe_device(p + off + 2 + nb, dlen - nb, devs[n]);
		off += 2 + dlen;
	}
	cr_assert_eq(off, len, "Devices end at %zu, Scope at %u", off, len);
	return n;
}

static void check_dsdt(const uint8_t *dsdt, const struct x86_acpi_config *c)
{
	static const char *const com[4] = { "io:3f8/8 irq:10", "io:2f8/8 irq:8", "io:3e8/8 irq:10",
					    "io:2e8/8 irq:8" };
	char devs[MAX_DEVS][DESC_LEN], want[MAX_DEVS][DESC_LEN];
	bool s5;
	unsigned int n = describe_dsdt(dsdt, devs, &s5), nwant = 0;

	cr_expect_eq(s5, c->sleep_port != 0, "\\_S5 %s, sleep port 0x%x", s5 ? "present" : "absent",
		     c->sleep_port);

	for (unsigned int i = 0; i < 4; i++)
		if (c->serial_mask & (1u << i))
			snprintf(want[nwant++], DESC_LEN, "COM%u hid:41d00501 uid:%u %s", i + 1,
				 i + 1, com[i]);
	if (c->i8042)
		snprintf(want[nwant++], DESC_LEN, "PS2K hid:41d00303 io:60/1 io:64/1 irq:2");
	if (c->rtc)
		snprintf(want[nwant++], DESC_LEN, "RTC_ hid:41d00b00 io:70/2");
	if (c->pci_mmio_end)
		snprintf(
			want[nwant++], DESC_LEN,
			"PCI0 hid:41d00a03 uid:0 bus:0-0 io:cf8/8 wio:0-cf7 wio:d00-ffff mem:%x-%x "
			"prt:31",
			(unsigned int)c->pci_mmio_start, (unsigned int)(c->pci_mmio_end - 1));
	cr_expect_eq(n, nwant, "%u devices in the DSDT, %u configured", n, nwant);
	for (unsigned int i = 0; i < nwant; i++) {
		unsigned int j = 0;

		while (j < n && strcmp(devs[j], want[i]))
			j++;
		cr_expect_lt(j, n, "DSDT lacks \"%s\"; it has \"%s\"...", want[i],
			     n ? devs[0] : "");
	}
}

/* Every table inside [lo, hi), none overlapping another. */
static void check_placement(const struct tables *t, uint64_t lo, uint64_t hi)
{
	uint64_t a[5] = { t->rsdp_addr, t->xsdt_addr, t->fadt_addr, t->madt_addr, t->dsdt_addr };
	uint64_t l[5] = { 36, get32(t->xsdt + 4), get32(t->fadt + 4), get32(t->madt + 4),
			  get32(t->dsdt + 4) };

	for (int i = 0; i < 5; i++) {
		cr_expect(a[i] >= lo && a[i] + l[i] <= hi, "table %d at [0x%llx, +%llu)", i,
			  (unsigned long long)a[i], (unsigned long long)l[i]);
		for (int j = 0; j < i; j++)
			cr_expect(a[i] + l[i] <= a[j] || a[j] + l[j] <= a[i],
				  "tables %d and %d overlap", j, i);
	}
}

static void build_and_check(const struct x86_acpi_config *c)
{
	struct cvm_errbuf e = { "" };
	struct guest_mem m;
	struct tables t;
	uint64_t rsdp = 0;

	make_mem(&m);
	cr_assert_eq(x86_setup_acpi(&m, c, &rsdp, &e), 0, "%s", e.msg);
	parse(&m, rsdp, &t);
	check_placement(&t, X86_ACPI_START, X86_ACPI_END);
	check_fadt(t.fadt, c);
	check_madt(t.madt, c);
	check_dsdt(t.dsdt, c);
	cr_expect_eq(get32(t.madt + 4), 44 + 8 * c->nr_vcpus + 12 + 10 + 6, "MADT length %u",
		     get32(t.madt + 4));
	gmem_destroy(&m);
}

Test(acpi, vcpu_counts)
{
	static const unsigned int counts[] = { 1, 2, 64, X86_ACPI_MAX_VCPUS };

	cr_assert_eq(X86_ACPI_MAX_VCPUS, 254);
	for (unsigned int i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct x86_acpi_config c = pc_config(counts[i]);

		build_and_check(&c);
	}
}

Test(acpi, fewer_devices)
{
	/* One serial port, no 8042, RTC or PCI; then no legacy device at all. */
	struct x86_acpi_config c = pc_config(2);

	c.serial_mask = 0x1;
	c.i8042 = c.rtc = false;
	c.pci_mmio_end = 0;
	c.sleep_port = 0;
	build_and_check(&c);
	c.serial_mask = 0;
	build_and_check(&c);
	c = pc_config(1);
	c.serial_mask = 0x4;
	c.rtc = false;
	build_and_check(&c);
}

/* A config that must be refused: -EINVAL, a message, and no table written. */
static void expect_einval(const struct x86_acpi_config *c, const char *what)
{
	struct cvm_errbuf e = { "" };
	struct guest_mem m;
	unsigned int count;
	uint64_t rsdp = 0x1234;

	make_mem(&m);
	cr_expect_eq(x86_setup_acpi(&m, c, &rsdp, &e), -EINVAL, "%s accepted", what);
	cr_expect_neq(e.msg[0], 0, "%s: no message", what);
	cr_expect_eq(rsdp, 0x1234, "%s: RSDP address written", what);
	scan_rsdp(&m, &count);
	cr_expect_eq(count, 0, "%s: tables written", what);
	gmem_destroy(&m);
}

Test(acpi, bad_config)
{
	struct x86_acpi_config c = pc_config(X86_ACPI_MAX_VCPUS + 1);

	expect_einval(&c, "255 vCPUs");
	c.nr_vcpus = 0;
	expect_einval(&c, "0 vCPUs");
	c = pc_config(2);
	c.ioapic_id = 256;
	expect_einval(&c, "IOAPIC id 256");
	c = pc_config(2);
	c.ioapic_addr = 1ULL << 32;
	expect_einval(&c, "IOAPIC above 4 GiB");
	c = pc_config(2);
	c.sci_irq = 0;
	expect_einval(&c, "SCI IRQ 0");
	c.sci_irq = 2;
	expect_einval(&c, "SCI IRQ 2");
	c.sci_irq = 16;
	expect_einval(&c, "SCI IRQ 16");
	c = pc_config(2);
	c.serial_mask = 0x10;
	expect_einval(&c, "COM5");
	c = pc_config(2);
	c.pci_mmio_end = 0xff000000;
	expect_einval(&c, "PCI window over the IOAPIC");
	c = pc_config(2);
	c.pci_mmio_start = c.pci_mmio_end;
	expect_einval(&c, "empty PCI window");
}

Test(acpi, bad_area)
{
	struct x86_acpi_config c = pc_config(64);
	struct cvm_errbuf e = { "" };
	struct guest_mem m;
	uint64_t rsdp = 0;
	uint8_t *p;

	make_mem(&m);
	cr_expect_eq(x86_acpi_build(&m, &c, X86_ACPI_START + 8, 0x10000, &rsdp, &e), -EINVAL,
		     "unaligned table area accepted");
	/* Too small: -ENOSPC, and not a byte written. */
	p = gmem_ptr(&m, X86_ACPI_START, 1024);
	memset(p, 0xa5, 1024);
	cr_expect_eq(x86_acpi_build(&m, &c, X86_ACPI_START, 1024, &rsdp, &e), -ENOSPC);
	cr_expect(strstr(e.msg, "bytes") != NULL, "message: %s", e.msg);
	for (int i = 0; i < 1024; i++)
		cr_assert_eq(p[i], 0xa5, "byte %d written although the tables do not fit", i);
	/* Straddling the end of RAM, then wholly past it: -EFAULT. */
	cr_expect_eq(x86_acpi_build(&m, &c, 64 * MIB - 4096, 64 * 1024, &rsdp, &e), -EFAULT);
	cr_expect(strstr(e.msg, "RAM") != NULL, "message: %s", e.msg);
	cr_expect_eq(x86_acpi_build(&m, &c, 128 * MIB, 64 * 1024, &rsdp, &e), -EFAULT);
	cr_expect_eq(rsdp, 0, "RSDP address written on error");
	gmem_destroy(&m);
}

Test(acpi, stale_rsdp_is_cleared)
{
	struct x86_acpi_config c = pc_config(2);
	struct cvm_errbuf e = { "" };
	struct guest_mem m;
	uint8_t *old;
	uint64_t rsdp = 0;
	unsigned int count;

	make_mem(&m);
	old = gmem_ptr(&m, 0xf0000, 36);
	memcpy(old, "RSD PTR ", 8);
	old[8] = (uint8_t)-sum8(old, 20);
	scan_rsdp(&m, &count);
	cr_assert_eq(count, 1, "the planted RSDP is not found");
	cr_assert_eq(x86_setup_acpi(&m, &c, &rsdp, &e), 0, "%s", e.msg);
	cr_expect_eq(scan_rsdp(&m, &count), rsdp);
	cr_expect_eq(count, 1, "%u RSDPs after the build", count);
	gmem_destroy(&m);
}

Test(acpi, elsewhere_through_the_pointer)
{
	/* Above 1 MiB the scan cannot find the tables; boot_params.acpi_rsdp_addr can. */
	struct x86_acpi_config c = pc_config(4);
	struct cvm_errbuf e = { "" };
	struct guest_mem m;
	struct tables t;
	uint64_t rsdp = 0;
	unsigned int count;

	make_mem(&m);
	cr_assert_eq(x86_acpi_build(&m, &c, 16 * MIB, 0x10000, &rsdp, &e), 0, "%s", e.msg);
	cr_expect_eq(rsdp, 16 * MIB);
	scan_rsdp(&m, &count);
	cr_expect_eq(count, 0);
	parse_from(&m, rsdp, &t);
	check_placement(&t, 16 * MIB, 16 * MIB + 0x10000);
	check_madt(t.madt, &c);
	check_dsdt(t.dsdt, &c);
	gmem_destroy(&m);
}
