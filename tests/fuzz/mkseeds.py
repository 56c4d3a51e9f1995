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


def wl_seeds():
    # fuzz_wl: u8 features, out ring, in ring (at FZ_VQ2), then steps (u8 op mod 5).
    NEW, CLOSE, SEND, NEW_CTX, NEW_PIPE, DMABUF, NAMED = 0x100, 0x101, 0x102, 0x104, 0x105, \
        0x107, 0x10A
    RUN_OUT, FILL_IN, PEER_SEND, PEER_ACT, EVENTS = 0, 1, 2, 3, 4

    def vfd_new(t, vid, flags=0, size=0):
        return struct.pack("<IIIIQI", t, 0, vid, flags, 0, size) + bytes(36)

    def ctl(t, vid):
        return struct.pack("<III", t, 0, vid)

    def named(vid, name=b""):
        return struct.pack("<IIIIQI", NAMED, 0, vid, 0, 0, 0) + name.ljust(32, b"\0")

    def send(vid, ids=(), payload=b""):
        return struct.pack("<IIII", SEND, 0, vid, len(ids)) + \
            struct.pack("<%dI" % len(ids), *ids) + payload

    def out_ring(cmds):
        """Each command: a readable buffer and a 64-byte writable one, in one 64-entry ring."""
        descs, data = [], b""
        for c in cmds:
            i = len(descs)
            descs.append(desc(FZ_DATA + len(data), len(c), NEXT, i + 1))
            data += c + bytes((-len(c)) % 64)
            descs.append(desc(FZ_DATA + len(data), 64, WRITE))
            data += bytes(64)
        return ring(6, [2 * i for i in range(len(cmds))], descs, data)

    rx = ring(4, list(range(16)), [desc(FZ_VQ2 + FZ_DATA + 0x1000 * i, 0x1000, WRITE)
                                   for i in range(16)])
    pipe_w, pipe_r = 1, 0  # NEW_PIPE flags: the guest writes / reads

    def peer_send(peer, payload, kinds=()):
        out = bytes([PEER_SEND, peer]) + struct.pack("<H", len(payload)) + payload
        out += bytes([len(kinds)])
        for k, sz in kinds:
            out += bytes([k]) + (struct.pack("<H", sz) if k < 2 else b"")
        return out

    def ev(slot=0xFF, bits=0):
        return bytes([EVENTS, slot, bits])

    hello = b"\x01\x00\x00\x00\x0c\x00\x01\x00" + b"\x02\x00\x00\x00"
    # One seed per command, each answered; then a whole session with the compositor.
    put("wl", "vfd_new", bytes([3]) + out_ring([vfd_new(NEW, 1, 0, 5000),
                                                 vfd_new(NEW, 2, 0, 4096), ctl(CLOSE, 1)]) +
        rx + bytes([RUN_OUT, FILL_IN]))
    put("wl", "vfd_new_legacy", bytes([0]) + out_ring([vfd_new(NEW, 1, 3, 8192),
                                                        vfd_new(NEW, 2, 4, 4096)]) + rx)
    put("wl", "new_pipe", bytes([1]) + out_ring([vfd_new(NEW_PIPE, 3, pipe_w),
                                                  vfd_new(NEW_PIPE, 4, pipe_r),
                                                  vfd_new(NEW_PIPE, 5, 3),
                                                  send(3, (), b"to the pipe")]) + rx)
    put("wl", "new_ctx_send", bytes([3]) + out_ring([ctl(NEW_CTX, 1), send(1, (), hello)]) +
        rx + bytes([RUN_OUT, PEER_ACT, 0, 1]))
    put("wl", "new_ctx_named", bytes([1]) + out_ring([named(1), named(2, b"wayland-1"),
                                                       ctl(CLOSE, 1)]) + rx)
    put("wl", "send_vfds", bytes([3]) + out_ring([
        ctl(NEW_CTX, 1), vfd_new(NEW, 2, 0, 4096), vfd_new(NEW_PIPE, 3, pipe_r),
        vfd_new(NEW_PIPE, 4, pipe_w), send(1, (2, 3, 4), b"fds"), send(1, (2, 99), b"x"),
        send(1, (2,), b""), send(3, (), b"x")]) + rx +
        bytes([RUN_OUT, PEER_ACT, 0, 1]) + ev() + bytes([FILL_IN]))
    put("wl", "bad_commands", bytes([1]) + out_ring([
        b"\x04\x01\x00", vfd_new(DMABUF, 1), struct.pack("<IIII", 0x109, 0, 1, 0),
        struct.pack("<IIII", SEND, 0, 1, 29) + bytes(116), ctl(NEW_CTX, 0x40000000),
        ctl(CLOSE, 77), vfd_new(NEW, 1, 0, 0), vfd_new(NEW, 1, 0, 0xFFFFFFFF),
        struct.pack("<I", 0xFFFF) + bytes(60)]) + rx)
    # The compositor: bytes, then a memfd, a sealed memfd, pipe ends, a socket, /dev/null.
    fds = [(0, 128), (1, 64), (2, 0), (3, 0), (4, 0), (5, 0)]
    put("wl", "compositor", bytes([3]) + out_ring([ctl(NEW_CTX, 1), ctl(NEW_CTX, 2)]) + rx +
        bytes([RUN_OUT]) + peer_send(0, b"events", fds) + ev() + bytes([FILL_IN]) +
        peer_send(1, b"more") + ev() + bytes([FILL_IN]) + bytes([PEER_ACT, 0, 0]) + ev() +
        bytes([FILL_IN]) + ev(0, 0x0D) + bytes([FILL_IN]))
    # Large sends the compositor does not read: held, then drained. Their bytes are guest
    # memory the input does not spell out: a 448 KiB readable buffer over the (zeroed) data area.
    descs = [desc(FZ_DATA, 12, NEXT, 1), desc(FZ_DATA + 0x100, 64, WRITE)]
    data = ctl(NEW_CTX, 1) + bytes(0x100 - 12)
    for i in range(2):
        d = len(descs)
        descs += [desc(FZ_DATA + len(data), 16, NEXT, d + 1),
                  desc(FZ_DATA + 0x8000, 0x70000, NEXT, d + 2),
                  desc(FZ_DATA + len(data) + 0x40, 64, WRITE)]
        data += send(1) + bytes(0x80 - 16)
    descs += [desc(FZ_DATA + len(data), 12, NEXT, len(descs) + 1),
              desc(FZ_DATA + len(data) + 0x40, 64, WRITE)]
    data += ctl(CLOSE, 1) + bytes(0x80 - 12)
    drain = bytes([PEER_ACT, 0, 1]) + ev() + bytes([RUN_OUT])
    put("wl", "held_send", bytes([3]) + ring(4, [0, 2, 5, 8], descs, data) + rx +
        bytes([RUN_OUT, RUN_OUT]) + ev(0, 2) + drain * 24)
    # The compositor drops the read end of a pipe the guest writes, while a held send keeps
    # the guest's next write to it waiting: VFD_SEND to that pipe then fails with EPIPE.
    descs, data, heads = [], b"", []
    for c, big_len in [(ctl(NEW_CTX, 1), 0), (vfd_new(NEW_PIPE, 4, pipe_w), 0),
                       (send(1, (4,), b"p"), 0), (send(1), 0x70000), (send(4, (), b"x"), 0)]:
        heads.append(len(descs))
        descs.append(desc(FZ_DATA + len(data), len(c), NEXT, len(descs) + 1))
        if big_len:
            descs.append(desc(FZ_DATA + 0x8000, big_len, NEXT, len(descs) + 1))
        descs.append(desc(FZ_DATA + len(data) + 0x40, 64, WRITE))
        data += c + bytes(0x80 - len(c))
    put("wl", "pipe_reader_gone", bytes([1]) + ring(4, heads, descs, data) + rx +
        bytes([RUN_OUT]) + drain * 8)
    # The guest takes nothing for a while: the ring fills, the device pauses; then it takes.
    many = b"".join(peer_send(0, b"e%02d" % i) + ev() for i in range(40))
    put("wl", "paused", bytes([1]) + out_ring([ctl(NEW_CTX, 1)]) + rx + bytes([RUN_OUT]) +
        many + bytes([FILL_IN]) + ev() + bytes([FILL_IN]))


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
    wl_seeds()
    virtio_pci_seeds()
    loader_seeds()
