// SPDX-License-Identifier: BSD-3-Clause
/*
 * Accesses where no device is:
 *
 *   evil_ports: a byte write and a byte read of every I/O port 0..0xffff
 *	except the assigned ones (ports[] below: the VMM's devices and the
 *	in-kernel PIC, PIT and ELCR); every read must be 0xff. Then 16- and
 *	32-bit accesses on a sample, and accesses straddling the end of
 *	assigned ranges.
 *   evil_mmio_lo, evil_mmio_hi: one access on every 4 KiB page of the PCI hole
 *	[0xc0000000, 4 GiB) that no BAR (sized the usual way), the IOAPIC or the
 *	LAPIC covers, alternately a write and a read that must be all-ones;
 *	one per MiB between the end of RAM and the hole; then, in the BAR of
 *	virtio-blk, -rng and -vsock (live, DRIVER_OK), a write and a read of
 *	every offset the transport does not implement, and accesses of every
 *	wrong width to the common configuration.
 *
 * Afterwards the VM must still run and every device must work. Lines:
 * "EVIL ports <n> written and read", "EVIL mmio <n> pages ...".
 */
#include "t_evil.h"

static const struct {
	uint16_t lo, hi;
} ports[] = {
	{ 0x20, 0x21 },	  /* PIC (KVM) */
	{ 0x40, 0x43 },	  /* PIT (KVM) */
	{ 0x60, 0x61 },	  /* i8042 data; 0x61: PIT speaker (KVM) */
	{ 0x64, 0x64 },	  /* i8042 command */
	{ 0x70, 0x71 },	  /* CMOS */
	{ 0x80, 0x80 },	  /* POST */
	{ 0xa0, 0xa1 },	  /* PIC (KVM) */
	{ 0x2e8, 0x2ef }, /* COM4 */
	{ 0x2f8, 0x2ff }, /* COM2 */
	{ 0x3e8, 0x3ef }, /* COM3 */
	{ 0x3f8, 0x3ff }, /* COM1 */
	{ 0x4d0, 0x4d1 }, /* ELCR (KVM) */
	{ 0x600, 0x601 }, /* ACPI sleep control/status */
	{ 0xcf8, 0xcff }, /* PCI configuration */
};

static uint8_t assigned[0x10000 / 8];

static void use_all(const char *t, const char *what, bool *ok)
{
	static struct edev blk, rng;
	static bool found;

	if (!found) {
		if (ev_find(t, &blk, EV_BLK, 0) || ev_find(t, &rng, EV_RNG, 0) ||
		    ev_open(t, &blk) || ev_open(t, &rng)) {
			*ok = false;
			return;
		}
		found = true;
	}
	*ok = !ev_use(t, &blk, what) && !ev_use(t, &rng, what);
}

void test_evil_ports(const struct boot_params *bp)
{
	const char *t = "evil_ports";
	unsigned int n = 0, bad = 0;
	uint16_t first_bad = 0;
	uint8_t first_val = 0;
	bool ok;

	(void)bp;
	use_all(t, "before the port scan", &ok);
	if (!ok)
		return;
	for (unsigned int i = 0; i < ARRAY_SIZE(ports); i++)
		for (unsigned int p = ports[i].lo; p <= ports[i].hi; p++)
			assigned[p / 8] |= (uint8_t)(1u << (p % 8));
	for (unsigned int p = 0; p < 0x10000; p++) {
		uint8_t v;

		if (assigned[p / 8] & (1u << (p % 8)))
			continue;
		outb((uint16_t)p, (uint8_t)(p ^ 0x5a));
		v = inb((uint16_t)p);
		n++;
		if (v != 0xff && !bad++) {
			first_bad = (uint16_t)p;
			first_val = v;
		}
	}
	if (bad) {
		fail(t, "%u unassigned ports do not read 0xff; the first: port 0x%x reads 0x%02x",
		     bad, first_bad, first_val);
		return;
	}
	/* Wider accesses, and ones straddling the end of assigned ranges. */
	for (unsigned int p = 0x1000; p < 0x10000; p += 0x1004) {
		outw((uint16_t)p, 0xa5a5);
		outl((uint16_t)(p + 4), 0xa5a5a5a5u);
		if (inw((uint16_t)p) != 0xffff || inl((uint16_t)(p + 4)) != 0xffffffffu) {
			fail(t, "port 0x%x: a wide read is not all-ones", p);
			return;
		}
	}
	if (inl(0x3fe) != 0xffffffffu || inw(0x71) != 0xffff || inl(0x5fe) != 0xffffffffu ||
	    inl(0xcfe) != 0xffffffffu) {
		fail(t, "reads straddling an assigned range are not all-ones");
		return;
	}
	outl(0x5fe, 0); /* would reach the sleep register if straddling were taken */
	outw(0x63, 0xfefe);
	printf("EVIL ports %u written and read\n", n);
	use_all(t, "after the port scan", &ok);
	if (ok)
		pass(t);
}

static inline void mmio_write64(uintptr_t a, uint64_t v)
{
	*(volatile uint64_t *)a = v;
}

static inline uint64_t mmio_read64(uintptr_t a)
{
	return *(volatile uint64_t *)a;
}

struct range {
	uint64_t lo, hi;
};

static struct range holes[64];
static unsigned int nholes;

/* Every memory BAR on bus 0, sized with decoding off (as Linux does), into holes[]. */
static void find_bars(void)
{
	for (unsigned int dev = 0; dev < 32; dev++) {
		uint32_t bdf = PCI_BDF(0, dev, 0);
		uint16_t cmd;

		if (pci_read16(bdf, 0) == 0xffff)
			continue;
		cmd = pci_read16(bdf, 4);
		pci_write16(bdf, 4, cmd & ~0x3);
		for (unsigned int b = 0; b < 6 && nholes < ARRAY_SIZE(holes); b++) {
			unsigned int off = 0x10 + 4 * b;
			uint32_t lo = pci_read32(bdf, off), szlo;
			uint64_t base = lo & ~0xfULL, size;
			bool is64 = (lo & 0x7) == 0x4;

			if (lo & 1)
				continue; /* I/O */
			pci_write32(bdf, off, 0xffffffffu);
			szlo = pci_read32(bdf, off) & ~0xfu;
			pci_write32(bdf, off, lo);
			size = szlo ? (uint64_t)(~szlo + 1u) : 0;
			if (is64) {
				base |= (uint64_t)pci_read32(bdf, off + 4) << 32;
				b++;
			}
			if (size)
				holes[nholes++] = (struct range){ base, base + size };
		}
		pci_write16(bdf, 4, cmd);
	}
	holes[nholes++] = (struct range){ 0xfec00000ULL, 0xfec01000ULL }; /* IOAPIC */
	holes[nholes++] = (struct range){ 0xfee00000ULL, 0xfee01000ULL }; /* LAPIC */
}

static bool covered(uint64_t a)
{
	for (unsigned int i = 0; i < nholes; i++)
		if (a >= holes[i].lo && a < holes[i].hi)
			return true;
	return false;
}

/* The transport's field widths (lib/virtio/vp_regs.c common_width()). */
static unsigned int common_width(unsigned int off)
{
	switch (off) {
	case 0x14:
	case 0x15:
		return 1;
	case 0x10:
	case 0x12:
	case 0x16:
	case 0x18:
	case 0x1a:
	case 0x1c:
	case 0x1e:
		return 2;
	default:
		return off < 0x38 && off % 4 == 0 ? 4 : 0;
	}
}

/* Unimplemented offsets of a live virtio BAR; then the device must still work. */
static int bar_scan(const char *t, struct edev *e, unsigned int *count)
{
	struct vdev *d = &e->d;
	uintptr_t bar = d->common; /* COMMON is at offset 0 of BAR 0 */
	const struct range gaps[] = {
		{ 0x40, 0x1000 },
		{ 0x1004, 0x2000 },
		{ 0x2000 + ((d->devcfg_len + 3) & ~3u), 0x3000 },
		{ 0x3000 + 4u * d->num_queues, 0x4000 },
		{ 0x4000 + 16u * d->msix_size, 0x5000 },
		{ 0x5008, 0x8000 },
	};

	if (ev_open(t, e))
		return -1;
	for (unsigned int g = 0; g < ARRAY_SIZE(gaps); g++) {
		for (uint64_t off = gaps[g].lo; off < gaps[g].hi; off += 4) {
			uint32_t v;

			mmio_write32(bar + off, 0xffffffffu);
			v = mmio_read32(bar + off);
			(*count)++;
			if (off >= 0x4000 && off < 0x5000 && v != 0xffffffffu) {
				fail(t, "%s: MSI-X table offset 0x%llx beyond the table reads 0x%x",
				     e->name, (unsigned long long)off - 0x4000, v);
				return -1;
			}
		}
	}
	for (unsigned int off = 1; off < 4; off++) {
		mmio_write8(bar + 0x1000 + off, 0xff);
		(void)mmio_read8(bar + 0x1000 + off);
	}
	/* The common configuration at every wrong width (the right ones are real writes). */
	for (unsigned int off = 0; off < 0x40; off++) {
		for (unsigned int w = 1; w <= 8; w *= 2) {
			if (off % w || common_width(off) == w)
				continue;
			if (w == 1)
				mmio_write8(bar + off, 0);
			else if (w == 2)
				mmio_write16(bar + off, 0);
			else if (w == 4)
				mmio_write32(bar + off, 0);
			else
				mmio_write64(bar + off, 0);
			(void)mmio_read64(bar + (off & ~7u));
			(*count)++;
		}
	}
	if (ev_healthy(t, e, "after the BAR scan") || ev_use(t, e, "after the BAR scan"))
		return -1;
	printf("EVIL %s BAR scan: ok\n", e->name);
	return 0;
}

/* One access per page of [@lo, @hi) outside holes[]: even pages written, odd ones read. */
static int hole_scan(const char *t, uint64_t lo, uint64_t hi, unsigned int *pages)
{
	unsigned int bad = 0;
	uint64_t first_bad = 0;

	for (uint64_t a = lo; a < hi; a += 4096) {
		uintptr_t p = (uintptr_t)a + ((a >> 12) * 0x44 & 0xffc);

		if (covered(a))
			continue;
		if ((a >> 12) & 1) {
			if (mmio_read32(p) != 0xffffffffu && !bad++)
				first_bad = p;
		} else {
			mmio_write32(p, 0x5a5a5a5au);
		}
		(*pages)++;
	}
	if (bad)
		fail(t, "%u reads in the PCI hole are not all-ones; the first at 0x%llx", bad,
		     (unsigned long long)first_bad);
	return bad ? -1 : 0;
}

/*
 * The hole is scanned in two halves by two tests (each about 7 s here, where
 * an MMIO exit costs some 50 us): evil_mmio_lo with the RAM gap, evil_mmio_hi
 * with the BAR scans.
 */
void test_evil_mmio_lo(const struct boot_params *bp)
{
	const char *t = "evil_mmio_lo";
	uint64_t ram_end = ev_ram_end(bp);
	unsigned int pages = 0, gap = 0;
	bool ok;

	use_all(t, "before the MMIO scan", &ok);
	if (!ok)
		return;
	find_bars();
	use_all(t, "after sizing the BARs", &ok);
	if (!ok || hole_scan(t, 0xc0000000ULL, 0xe0000000ULL, &pages))
		return;
	for (uint64_t a = (ram_end + 0xfffff) & ~0xfffffULL; a < 0xc0000000ULL; a += 1 << 20) {
		mmio_write32((uintptr_t)a, 0x5a5a5a5au);
		if (mmio_read32((uintptr_t)a) != 0xffffffffu) {
			fail(t, "0x%llx above RAM does not read all-ones", (unsigned long long)a);
			return;
		}
		gap++;
	}
	printf("EVIL mmio %u pages of the PCI hole, %u MiB above RAM\n", pages, gap);
	use_all(t, "after the MMIO scan", &ok);
	if (ok)
		pass(t);
}

void test_evil_mmio_hi(const struct boot_params *bp)
{
	const char *t = "evil_mmio_hi";
	static struct edev devs[3];
	static const enum ev_kind kinds[] = { EV_BLK, EV_RNG, EV_VSOCK };
	unsigned int pages = 0, regs = 0;
	bool ok;

	(void)bp;
	use_all(t, "before the MMIO scan", &ok);
	if (!ok)
		return;
	find_bars();
	if (hole_scan(t, 0xe0000000ULL, 0x100000000ULL, &pages))
		return;
	printf("EVIL mmio %u pages of the PCI hole\n", pages);
	use_all(t, "after the MMIO scan", &ok);
	if (!ok)
		return;
	for (unsigned int k = 0; k < ARRAY_SIZE(kinds); k++)
		if (ev_find(t, &devs[k], kinds[k], 0) || bar_scan(t, &devs[k], &regs))
			return;
	printf("EVIL mmio %u accesses inside virtio BARs\n", regs);
	for (unsigned int k = 0; k < ARRAY_SIZE(kinds); k++)
		if (ev_use(t, &devs[k], "after the BAR scans"))
			return;
	pass(t);
}
