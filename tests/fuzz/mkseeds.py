#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the binary seed corpora of tests/fuzz/corpus/ (the text ones --
policies, control requests -- are plain files there). Run from anywhere:
    python3 tests/fuzz/mkseeds.py
The layouts follow the input formats described at the top of each
fuzz_<name>.c and of fz_vq_build() in fuzz_util.h."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FZ_DATA = 0x4000
FZ_VQ2 = 0x80000  # base of the second ring (fz_vq_build_at())
NEXT, WRITE, INDIRECT = 1, 2, 4


def put(name, seed, data):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, seed), "wb") as f:
        f.write(data)


def desc(addr, length, flags=0, nxt=0):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def ring(log2, heads, descs, data=b"", flags=0, start=0, avail_flags=0, used_event=0):
    """fz_vq_build(): a queue of 1 << log2 entries whose avail ring offers @heads."""
    size = 1 << log2
    r = [0] * size
    for i, h in enumerate(heads):
        r[(start + i) % size] = h
    descs = descs + [desc(0, 0)] * (size - len(descs))
    out = struct.pack("<BBHHH", log2, flags, start, (start + len(heads)) & 0xFFFF, avail_flags)
    out += struct.pack("<%dH" % size, *r) + struct.pack("<H", used_event)
    out += b"".join(descs[:size])
    return out + struct.pack("<H", len(data)) + data


def vq_seeds():
    # A header, a data buffer and a status byte; then a lone readable buffer.
    d = [desc(FZ_DATA + 0x100, 16, NEXT, 1), desc(FZ_DATA + 0x200, 512, WRITE | NEXT, 2),
         desc(FZ_DATA + 0x400, 1, WRITE), desc(FZ_DATA + 0x500, 64)]
    put("virtqueue", "two_chains", ring(3, [0, 3], d) + bytes([0x0F]) + struct.pack("<I", 513) +
        bytes([0x0E]) + struct.pack("<I", 0))
    # An indirect table of three entries in the data area.
    tbl = desc(FZ_DATA + 0x100, 16, NEXT, 1) + desc(FZ_DATA + 0x200, 4096, WRITE | NEXT, 2) + \
        desc(FZ_DATA + 0x1200, 1, WRITE)
    put("virtqueue", "indirect",
        ring(2, [1], [desc(0, 0), desc(FZ_DATA, 48, INDIRECT)], tbl, flags=2) +
        bytes([0x0B]) + struct.pack("<I", 4097))
    # EVENT_IDX, indices about to wrap, chains out of order.
    d = [desc(FZ_DATA + 0x10 * i, 0x10, WRITE) for i in range(16)]
    put("virtqueue", "event_idx_wrap",
        ring(4, [5, 2, 9, 0], d, flags=3, start=0xFFFE, used_event=0xFFFF) +
        bytes([0x0E, 0, 0, 0, 0] * 4))


def blk_req(log2, chains, flags=0, disk=0):
    """fuzz_blk: u8 disk options, then a ring. @chains: lists of (bytes, writable_len)."""
    descs, data, heads = [], b"", []
    for parts in chains:
        heads.append(len(descs))
        for i, (payload, wlen) in enumerate(parts):
            last = i == len(parts) - 1
            fl = 0 if last else NEXT
            nxt = 0 if last else len(descs) + 1
            if wlen:
                fl |= WRITE
                length = wlen
            else:
                length = len(payload)
            # Buffers 512-byte aligned, as a driver's would be.
            while len(data) % 512:
                data += b"\0"
            addr = FZ_DATA + len(data)
            data += payload if not wlen else b"\0" * wlen
            descs.append(desc(addr, length, fl, nxt))
    return bytes([disk]) + ring(log2, heads, descs, data, flags=flags)


def blk_hdr(t, sector=0):
    return struct.pack("<IIQ", t, 0, sector)


def blk_seeds():
    IN, OUT, FLUSH, GET_ID, DISCARD, WZ = 0, 1, 4, 8, 11, 13
    put("blk", "in", blk_req(3, [[(blk_hdr(IN, 2), 0), (b"", 1024), (b"", 1)]]))
    put("blk", "out", blk_req(3, [[(blk_hdr(OUT, 4), 0), (bytes(range(256)) * 4, 0),
                                   (b"", 1)]]))
    put("blk", "flush", blk_req(3, [[(blk_hdr(FLUSH), 0), (b"", 1)]]))
    put("blk", "get_id", blk_req(3, [[(blk_hdr(GET_ID), 0), (b"", 20), (b"", 1)]]))
    seg = struct.pack("<QII", 8, 16, 0)
    put("blk", "discard", blk_req(3, [[(blk_hdr(DISCARD) + seg, 0), (b"", 1)]]))
    put("blk", "write_zeroes",
        blk_req(3, [[(blk_hdr(WZ) + struct.pack("<QII", 1, 7, 1), 0), (b"", 1)]]))
    # Several requests in one ring; a direct (O_DIRECT-like) disk; read-only.
    many = [[(blk_hdr(OUT, 1), 0), (b"\x55" * 512, 0), (b"", 1)],
            [(blk_hdr(IN, 1), 0), (b"", 512), (b"", 1)],
            [(blk_hdr(FLUSH), 0), (b"", 1)]]
    put("blk", "mixed", blk_req(3, many))
    put("blk", "mixed_direct", blk_req(3, many, disk=0x02))
    put("blk", "mixed_ro", blk_req(3, many, disk=0x01))
    put("blk", "short_io", blk_req(3, many, disk=0x04 | 0x40))


def net_seeds():
    # fuzz_net: u64 features, then a tx ring, then u16 frame length + frame (rx).
    CSUM, GUEST_CSUM, TSO4, MRG = 1 << 0, 1 << 1, 1 << 11, 1 << 15
    feats = CSUM | GUEST_CSUM | TSO4 | MRG | (1 << 7)
    eth = bytes([0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x52, 0x54, 0, 0x12, 0x34, 0x57, 8, 0])
    ip = bytes(20) + bytes(20) + b"payload"
    hdr = struct.pack("<BBHHHHH", 0, 0, 0, 0, 0, 0, 0)
    hdr_gso = struct.pack("<BBHHHHH", 1, 1, 54, 1448, 34, 16, 0)
    tx = ring(2, [0, 2], [desc(FZ_DATA, 12, NEXT, 1), desc(FZ_DATA + 0x100, 61),
                          desc(FZ_DATA + 0x200, 12 + 61)],
              hdr + bytes(0x100 - 12) + eth + ip + bytes(0x100 - 61) + hdr_gso + eth + ip)
    rx = ring(2, [0, 1], [desc(FZ_VQ2 + FZ_DATA, 64, WRITE),
                          desc(FZ_VQ2 + FZ_DATA + 0x1000, 2048, WRITE)])
    frame = hdr + eth + ip
    frames = bytes([2]) + struct.pack("<H", len(frame)) + frame + \
        struct.pack("<H", len(hdr_gso + eth + ip)) + hdr_gso + eth + ip
    cfg = b"10.0.0.1\0" + b"255.255.255.0\0" + b"52:54:00:12:34:56\0" + b"\0"
    put("net", "tx_rx", struct.pack("<Q", feats) + tx + rx + frames + cfg)
    put("net", "tx_rx_plain", struct.pack("<Q", 1 << 5) + tx + rx + frames +
        b"\0\0\0cvmtap7\0")


def vsock_seeds():
    # fuzz_vsock: tx ring then rx ring; packets from guest CID 3 to the host.
    REQ, RESP, RST, SHUT, RW, CUPD, CREQ = 1, 2, 3, 4, 5, 6, 7

    def pkt(op, port=1024, payload=b"", flags=0):
        return struct.pack("<QQIIIHHIII", 3, 2, 5000, port, len(payload), 1, op, flags,
                           65536, 0) + payload

    pkts = [pkt(REQ), pkt(RW, payload=b"hello, host\n"), pkt(CREQ), pkt(CUPD),
            pkt(SHUT, flags=3), pkt(RST), pkt(REQ, port=7), pkt(RW, port=9, payload=b"x")]
    data, descs = b"", []
    for p in pkts:
        descs.append(desc(FZ_DATA + len(data), len(p)))
        data += p + bytes((-len(p)) % 64)
    tx = ring(3, list(range(len(pkts))), descs, data)
    rxd = [desc(FZ_VQ2 + FZ_DATA + 0x400 * i, 0x400, WRITE) for i in range(8)]
    rx = ring(3, list(range(8)), rxd)
    # Host actions: a host program connects ("CONNECT 5000"), the peers write.
    line = b"CONNECT 5000\n"
    host = bytes([1, len(line)]) + line + bytes([2]) + struct.pack("<H", 5) + b"hi!\n\0"
    put("vsock", "session", tx + rx + bytes([2]) + struct.pack("<H", 6) + b"hello\n" + host +
        bytes([6]) + struct.pack("<H", 3) + b"abc" + bytes([4]))
    put("vsock", "connect_only", ring(0, [0], [desc(FZ_DATA, 44)], pkt(REQ)) + rx)
    # The guest answers a host connection: RESPONSE from port 5000 to the ephemeral port.
    resp = struct.pack("<QQIIIHHIII", 3, 2, 5000, 1 << 30, 0, 1, RESP, 0, 65536, 0)
    put("vsock", "host_connect", ring(0, [0], [desc(FZ_DATA, 44)], resp) + rx + host)


def virtio_pci_seeds():
    # fuzz_virtio_pci: guest RAM (a ring at FZ_DESC/FZ_AVAIL/FZ_USED), then accesses.
    d = [desc(FZ_DATA + 0x100, 16, NEXT, 1), desc(FZ_DATA + 0x200, 512, WRITE | NEXT, 2),
         desc(FZ_DATA + 0x400, 1, WRITE)]
    r = ring(3, [0], d)
    # Guest RAM image: avail ring at 0x2000, descriptors at 0x1000 (as fz_vq_build() lays them).
    ram = bytearray(0x4000)
    size = 8
    struct.pack_into("<HH", ram, 0x2000, 0, 1)
    struct.pack_into("<H", ram, 0x2004, 0)
    for i, x in enumerate(d):
        ram[0x1000 + 16 * i:0x1000 + 16 * (i + 1)] = x

    def w(off, width, v):
        return bytes([1 | {1: 0, 2: 4, 4: 8, 8: 12}[width]]) + struct.pack("<HQ", off, v)

    def rd(off, width):
        return bytes([{1: 0, 2: 4, 4: 8, 8: 12}[width]]) + struct.pack("<HQ", off, 0)

    def kick(q):
        return bytes([2]) + struct.pack("<HQ", 0, q)

    ops = w(20, 1, 1) + w(20, 1, 3) + w(8, 4, 1) + w(12, 4, 1) + w(8, 4, 0) + \
        w(12, 4, (1 << 5) | (1 << 28) | (1 << 29)) + w(20, 1, 0x0B) + rd(20, 1) + \
        w(22, 2, 0) + w(24, 2, size) + w(26, 2, 1) + w(32, 4, 0x1000) + w(40, 4, 0x2000) + \
        w(48, 4, 0x3000) + w(28, 2, 1) + w(22, 2, 1) + w(24, 2, 16) + \
        w(0x4000, 4, 0xFEE00000) + w(0x4008, 4, 0x41) + w(0x400C, 4, 0) + \
        w(20, 1, 0x0F) + kick(0) + rd(0x1000, 1) + rd(0x2000, 8) + rd(0x5000, 8) + \
        w(0x2004, 4, 0x12345678) + rd(32, 4) + w(20, 1, 0) + rd(20, 1)
    put("virtio_pci", "driver_setup", struct.pack("<H", len(ram)) + bytes(ram) + ops)
    del r


def elf64(segments, entry):
    """A vmlinux-like ELF64: x86_64, ET_EXEC, PT_LOAD segments (paddr, data, memsz)."""
    ehdr_size, phdr_size = 64, 56
    off = ehdr_size + phdr_size * len(segments)
    phdrs, body = b"", b""
    for paddr, payload, memsz in segments:
        phdrs += struct.pack("<IIQQQQQQ", 1, 7, off + len(body), 0xFFFFFFFF80000000 + paddr,
                             paddr, len(payload), memsz, 0x1000)
        body += payload
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, ehdr_size, 0, 0, ehdr_size,
                               phdr_size, len(segments), 64, 0, 0)
    return ehdr + phdrs + body


def bzimage(setup_sects=4, pm=b"\x90" * 1024):
    """A tiny bzImage: boot sector + setup with the header, then the 64-bit part."""
    img = bytearray(512 * (setup_sects + 1))
    img[0x1F1] = setup_sects
    struct.pack_into("<H", img, 0x1FE, 0xAA55)
    img[0x200:0x202] = b"\xeb\x66"  # jmp short: the header ends at 0x268
    img[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", img, 0x206, 0x020F)  # protocol 2.15
    img[0x211] = 0x01  # loadflags: LOADED_HIGH
    struct.pack_into("<I", img, 0x214, 0x100000)  # code32_start
    struct.pack_into("<I", img, 0x22C, 0x7FFFFFFF)  # initrd_addr_max
    struct.pack_into("<I", img, 0x230, 0x200000)  # kernel_alignment
    img[0x234] = 1  # relocatable_kernel
    struct.pack_into("<H", img, 0x236, 0x3)  # xloadflags: XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G
    struct.pack_into("<I", img, 0x238, 2047)  # cmdline_size
    struct.pack_into("<Q", img, 0x258, 0x1000000)  # pref_address
    struct.pack_into("<I", img, 0x260, 0x400000)  # init_size
    return bytes(img) + pm


def loader_seeds():
    code = b"\xf4" * 64  # hlt
    put("loader", "elf_vmlinux", elf64([(0x100000, code, 0x2000), (0x200000, b"data", 0x10)],
                                       0x100000))
    put("loader", "elf_bss_only", elf64([(0x100000, code, 0x1000), (0x300000, b"", 0x4000)],
                                        0x100000))
    put("loader", "bzimage", bzimage())
    put("loader", "bzimage_1sect", bzimage(setup_sects=1, pm=b"\xf4" * 0x240))


if __name__ == "__main__":
    vq_seeds()
    blk_seeds()
    net_seeds()
    vsock_seeds()
    virtio_pci_seeds()
    loader_seeds()
