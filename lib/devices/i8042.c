// SPDX-License-Identifier: BSD-3-Clause
/*
 * i8042 keyboard controller with nothing plugged in. The controller answers
 * its own commands through a one-byte output buffer at port 0x60; bytes for
 * the keyboard or the mouse go nowhere and get no reply, as with an empty
 * socket, so a driver's PS/2 command times out. There is no interrupt line:
 * Linux polls the status register for controller commands.
 */
#include "devices/i8042.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Status register (read at 0x64). */
#define STS_OBF 0x01	  /* output buffer full: a byte waits at 0x60 */
#define STS_SYS 0x04	  /* system flag, mirrors config bit 2 */
#define STS_CMD 0x08	  /* the last write was to 0x64 */
#define STS_UNLOCKED 0x10 /* keyboard not inhibited by the keylock */
#define STS_AUXDATA 0x20  /* the waiting byte is from the aux port */

/* Controller configuration byte ("command byte"). */
#define CFG_SYS 0x04
#define CFG_KBD_DISABLE 0x10
#define CFG_AUX_DISABLE 0x20
/* Power-on: both ports disabled and their interrupts off, nothing attached. */
#define CFG_DEFAULT (CFG_KBD_DISABLE | CFG_AUX_DISABLE)

/* Output port: bit 0 low holds the CPU in reset, bit 1 is the A20 gate. */
#define OUTPORT_RESET 0x01
#define OUTPORT_A20 0x02
#define OUTPORT_DEFAULT (OUTPORT_RESET | OUTPORT_A20)

#define CMD_READ_CONFIG 0x20
#define CMD_WRITE_CONFIG 0x60
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_AUX_TEST 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_OUTPORT 0xd0
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_WRITE_KBD_OBUF 0xd2
#define CMD_WRITE_AUX_OBUF 0xd3
#define CMD_WRITE_AUX 0xd4
#define CMD_PULSE_MASK 0xf0 /* 0xf0..0xff pulse output port bits 3:0 low */

#define SELF_TEST_OK 0x55
#define PORT_TEST_OK 0x00

struct i8042 {
	pthread_mutex_t lock;
	void (*reset)(void *ctx);
	void *ctx;

	uint8_t out;  /* output buffer, kept after reading */
	bool obf;     /* out not yet read */
	bool out_aux; /* out came from the aux side */
	uint8_t config;
	uint8_t outport;
	uint8_t pending; /* command waiting for its data byte, 0 if none */
	bool last_cmd;	 /* the last write was to the command port */
};

static void i8042_put(struct i8042 *k, uint8_t v, bool aux)
{
	k->out = v;
	k->obf = true;
	k->out_aux = aux;
}

static uint8_t i8042_status(const struct i8042 *k)
{
	uint8_t v = STS_UNLOCKED;

	if (k->obf)
		v |= STS_OBF;
	if (k->obf && k->out_aux)
		v |= STS_AUXDATA;
	if (k->config & CFG_SYS)
		v |= STS_SYS;
	if (k->last_cmd)
		v |= STS_CMD;
	return v;
}

/* A controller command. Returns true if it asks for a CPU reset. */
static bool i8042_command(struct i8042 *k, uint8_t cmd)
{
	k->pending = 0; /* a new command abandons one still waiting for data */
	switch (cmd) {
	case CMD_READ_CONFIG:
		i8042_put(k, k->config, false);
		break;
	case CMD_WRITE_CONFIG:
	case CMD_WRITE_OUTPORT:
	case CMD_WRITE_KBD_OBUF:
	case CMD_WRITE_AUX_OBUF:
	case CMD_WRITE_AUX:
		k->pending = cmd;
		break;
	case CMD_AUX_DISABLE:
		k->config |= CFG_AUX_DISABLE;
		break;
	case CMD_AUX_ENABLE:
		k->config &= ~CFG_AUX_DISABLE;
		break;
	case CMD_KBD_DISABLE:
		k->config |= CFG_KBD_DISABLE;
		break;
	case CMD_KBD_ENABLE:
		k->config &= ~CFG_KBD_DISABLE;
		break;
	case CMD_AUX_TEST:
	case CMD_KBD_TEST:
		i8042_put(k, PORT_TEST_OK, false);
		break;
	case CMD_SELF_TEST:
		k->config |= CFG_SYS;
		i8042_put(k, SELF_TEST_OK, false);
		break;
	case CMD_READ_OUTPORT:
		i8042_put(k, k->outport, false);
		break;
	default:
		/* 0xf0..0xff pulse the output port bits that are 0 in the low nibble. */
		if ((cmd & CMD_PULSE_MASK) == CMD_PULSE_MASK)
			return !(cmd & OUTPORT_RESET);
		break; /* anything else is ignored */
	}
	return false;
}

/* A byte written to 0x60. Returns true if it asks for a CPU reset. */
static bool i8042_data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	switch (cmd) {
	case CMD_WRITE_CONFIG:
		k->config = v;
		break;
	case CMD_WRITE_OUTPORT:
		/* A20 cannot be masked under KVM: bit 1 is only stored. */
		k->outport = v;
		return !(v & OUTPORT_RESET);
	case CMD_WRITE_KBD_OBUF:
		i8042_put(k, v, false);
		break;
	case CMD_WRITE_AUX_OBUF:
		i8042_put(k, v, true);
		break;
	default:
		/*
		 * CMD_WRITE_AUX, or no command: a byte for the mouse or the
		 * keyboard, neither of which is attached. No reply.
		 */
		break;
	}
	return false;
}

static void i8042_do_reset(struct i8042 *k, bool reset)
{
	if (reset && k->reset)
		k->reset(k->ctx);
}

/* Port accesses: offset 0 of a one-byte range; wider ones use the low byte. */
static void i8042_data_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct i8042 *k = opaque;

	if (!len)
		return;
	if (offset) {
		memset(data, 0xff, len);
		return;
	}
	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	data[0] = k->out; /* with nothing waiting, the last byte again */
	k->obf = false;
	k->out_aux = false;
	pthread_mutex_unlock(&k->lock);
}

static void i8042_data_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct i8042 *k = opaque;
	bool reset;

	if (!len || offset)
		return;
	pthread_mutex_lock(&k->lock);
	k->last_cmd = false;
	reset = i8042_data(k, data[0]);
	pthread_mutex_unlock(&k->lock);
	i8042_do_reset(k, reset);
}

static void i8042_cmd_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct i8042 *k = opaque;

	if (!len)
		return;
	if (offset) {
		memset(data, 0xff, len);
		return;
	}
	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	data[0] = i8042_status(k);
	pthread_mutex_unlock(&k->lock);
}

static void i8042_cmd_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct i8042 *k = opaque;
	bool reset;

	if (!len || offset)
		return;
	pthread_mutex_lock(&k->lock);
	k->last_cmd = true;
	reset = i8042_command(k, data[0]);
	pthread_mutex_unlock(&k->lock);
	i8042_do_reset(k, reset);
}

const struct cvm_io_ops i8042_data_ops = {
	.read = i8042_data_read,
	.write = i8042_data_write,
};

const struct cvm_io_ops i8042_cmd_ops = {
	.read = i8042_cmd_read,
	.write = i8042_cmd_write,
};

struct i8042 *i8042_create(void (*reset)(void *ctx), void *ctx)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	if (pthread_mutex_init(&k->lock, NULL)) {
		free(k);
		return NULL;
	}
	k->reset = reset;
	k->ctx = ctx;
	k->config = CFG_DEFAULT;
	k->outport = OUTPORT_DEFAULT;
	return k;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}
