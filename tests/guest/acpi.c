// SPDX-License-Identifier: BSD-3-Clause
/* ACPI as a kernel without firmware finds it: RSDP -> XSDT -> MADT, checksums checked. */
#include "hw.h"

struct rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* bytes 0..19 sum to 0 */
	char oem_id[6];
	uint8_t revision; /* 2 for ACPI 2.0+ */
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum; /* all @length bytes sum to 0 */
	uint8_t reserved[3];
} __attribute__((packed));

struct sdt {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

#define MAX_TABLE_LEN (1u << 20)

/* The console's printf has no precision: a table signature as a string. */
struct sig {
	char s[5];
};

static struct sig sig4(const char *p)
{
	struct sig r;

	for (int i = 0; i < 4; i++)
		r.s[i] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?';
	r.s[4] = '\0';
	return r;
}

static uint8_t sum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (n--)
		s += *b++;
	return s;
}

static const struct rsdp *rsdp_at(uint64_t a)
{
	const struct rsdp *r = (const struct rsdp *)(uintptr_t)a;

	if (memcmp(r->signature, "RSD PTR ", 8) || sum(r, 20))
		return NULL;
	return r;
}

static const struct rsdp *find_rsdp(const struct boot_params *bp, uint64_t *where)
{
	if (bp->acpi_rsdp_addr && bp->acpi_rsdp_addr < 0x100000000ULL) {
		const struct rsdp *r = rsdp_at(bp->acpi_rsdp_addr);

		if (r) {
			*where = bp->acpi_rsdp_addr;
			return r;
		}
		printf("NOTE boot_params.acpi_rsdp_addr 0x%llx holds no valid RSDP\n",
		       (unsigned long long)bp->acpi_rsdp_addr);
	}
	/* The BIOS read-only area, on 16-byte boundaries. */
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16) {
		const uint32_t *w = (const uint32_t *)(uintptr_t)a;

		/* Cheap first test: "RSD " then "PTR ". */
		if (w[0] != 0x20445352u || w[1] != 0x20525450u)
			continue;
		if (rsdp_at(a)) {
			*where = a;
			return (const struct rsdp *)(uintptr_t)a;
		}
	}
	return NULL;
}

static int check_table(const struct sdt *t, const char *sig, char *why, size_t whylen)
{
	if (memcmp(t->signature, sig, 4)) {
		snprintf(why, whylen, "table at %p: signature '%s', want '%s'", (const void *)t,
			 sig4(t->signature).s, sig);
		return -1;
	}
	if (t->length < sizeof(*t) || t->length > MAX_TABLE_LEN) {
		snprintf(why, whylen, "%s length %u", sig, t->length);
		return -1;
	}
	if (sum(t, t->length)) {
		snprintf(why, whylen, "%s checksum wrong (bytes sum to 0x%02x)", sig,
			 sum(t, t->length));
		return -1;
	}
	return 0;
}

static int madt_parse(const struct sdt *t, struct acpi_cpus *c, char *why, size_t whylen)
{
	const uint8_t *p = (const uint8_t *)t + 44, *end = (const uint8_t *)t + t->length;

	if (t->length < 44) {
		snprintf(why, whylen, "MADT of %u bytes", t->length);
		return -1;
	}
	c->lapic_addr = *(const uint32_t *)((const uint8_t *)t + 36);
	while (p + 2 <= end) {
		uint8_t type = p[0], len = p[1];

		if (len < 2 || p + len > end) {
			snprintf(why, whylen, "MADT entry at offset %u: type %u length %u",
				 (unsigned int)(p - (const uint8_t *)t), type, len);
			return -1;
		}
		if (type == 0 && len >= 8) { /* processor local APIC */
			uint32_t flags = *(const uint32_t *)(p + 4);

			if (flags & 1) {
				if (c->n < ARRAY_SIZE(c->apic_id))
					c->apic_id[c->n] = p[3];
				c->n++;
			} else {
				c->disabled++;
			}
		} else if (type == 9 && len >= 16) { /* processor local x2APIC */
			uint32_t id = *(const uint32_t *)(p + 4);
			uint32_t flags = *(const uint32_t *)(p + 8);

			if (flags & 1) {
				if (c->n < ARRAY_SIZE(c->apic_id))
					c->apic_id[c->n] = id;
				c->n++;
			} else {
				c->disabled++;
			}
		} else if (type == 1 && len >= 12) { /* I/O APIC */
			if (!c->ioapics)
				c->ioapic_addr = *(const uint32_t *)(p + 4);
			c->ioapics++;
		}
		p += len;
	}
	return 0;
}

int acpi_read_madt(const struct boot_params *bp, struct acpi_cpus *c, char *why, size_t whylen)
{
	const struct rsdp *r;
	const struct sdt *root, *madt = NULL;
	uint64_t where = 0;
	unsigned int entries, esize;
	const uint8_t *ents;

	memset(c, 0, sizeof(*c));
	r = find_rsdp(bp, &where);
	if (!r) {
		snprintf(why, whylen,
			 "no RSDP (acpi_rsdp_addr 0x%llx, nothing in 0xE0000..0xFFFFF)",
			 (unsigned long long)bp->acpi_rsdp_addr);
		return -1;
	}
	printf("ACPI RSDP 0x%llx rev %u%s\n", (unsigned long long)where, r->revision,
	       bp->acpi_rsdp_addr == where ? " (boot_params)" : " (scan)");
	if (r->revision >= 2) {
		if (r->length < sizeof(*r) || r->length > 4096 || sum(r, r->length)) {
			snprintf(why, whylen, "RSDP rev %u: length %u or extended checksum wrong",
				 r->revision, r->length);
			return -1;
		}
		if (!r->xsdt || r->xsdt >= 0x100000000ULL) {
			snprintf(why, whylen, "RSDP rev 2 with XSDT address 0x%llx",
				 (unsigned long long)r->xsdt);
			return -1;
		}
		root = (const struct sdt *)(uintptr_t)r->xsdt;
		if (check_table(root, "XSDT", why, whylen))
			return -1;
		esize = 8;
	} else {
		root = (const struct sdt *)(uintptr_t)r->rsdt;
		if (check_table(root, "RSDT", why, whylen))
			return -1;
		esize = 4;
	}
	entries = (root->length - sizeof(*root)) / esize;
	ents = (const uint8_t *)root + sizeof(*root);
	for (unsigned int i = 0; i < entries; i++) {
		uint64_t a = esize == 8 ? *(const uint64_t *)(ents + 8 * i) :
					  *(const uint32_t *)(ents + 4 * i);
		const struct sdt *t = (const struct sdt *)(uintptr_t)a;

		if (!a || a >= 0x100000000ULL) {
			snprintf(why, whylen, "%s entry %u: address 0x%llx",
				 sig4(root->signature).s, i, (unsigned long long)a);
			return -1;
		}
		printf("ACPI %s 0x%llx %u\n", sig4(t->signature).s, (unsigned long long)a,
		       t->length);
		if (!memcmp(t->signature, "APIC", 4))
			madt = t;
		else if (t->length < sizeof(*t) || t->length > MAX_TABLE_LEN || sum(t, t->length)) {
			snprintf(why, whylen, "%s: length %u or checksum wrong",
				 sig4(t->signature).s, t->length);
			return -1;
		}
	}
	if (!madt) {
		snprintf(why, whylen, "no MADT ('APIC') among the %u %s entries", entries,
			 sig4(root->signature).s);
		return -1;
	}
	if (check_table(madt, "APIC", why, whylen))
		return -1;
	return madt_parse(madt, c, why, whylen);
}
