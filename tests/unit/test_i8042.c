// SPDX-License-Identifier: BSD-3-Clause
/* Unit tests of the i8042 controller, through its data (0x60) and command (0x64) ops. */
#include <criterion/criterion.h>

#include <string.h>

#include "devices/i8042.h"

#define STS_OBF 0x01
#define STS_SYS 0x04
#define STS_CMD 0x08
#define STS_UNLOCKED 0x10
#define STS_AUXDATA 0x20

static struct i8042 *k;
static int reset_calls;
static uint8_t status_in_reset;

/* Reads the status from inside the callback: deadlocks if the lock is held. */
static void fake_reset(void *ctx)
{
	cr_assert_eq(ctx, &reset_calls);
	i8042_cmd_ops.read(k, 0, &status_in_reset, 1);
	reset_calls++;
}

static void setup(void)
{
	reset_calls = 0;
	status_in_reset = 0;
	k = i8042_create(fake_reset, &reset_calls);
	cr_assert_not_null(k);
}

static void teardown(void)
{
	i8042_destroy(k);
	k = NULL;
}

static void cmd(uint8_t v)
{
	i8042_cmd_ops.write(k, 0, &v, 1);
}

static void data_out(uint8_t v)
{
	i8042_data_ops.write(k, 0, &v, 1);
}

static uint8_t status(void)
{
	uint8_t v = 0xee;

	i8042_cmd_ops.read(k, 0, &v, 1);
	return v;
}

static uint8_t data_in(void)
{
	uint8_t v = 0xee;

	i8042_data_ops.read(k, 0, &v, 1);
	return v;
}

/* A command with one reply byte: it must be waiting, then gone once read. */
static uint8_t reply(uint8_t c)
{
	uint8_t v;

	cmd(c);
	cr_assert_eq(status() & STS_OBF, STS_OBF, "no reply to 0x%02x", c);
	v = data_in();
	cr_assert_eq(status() & STS_OBF, 0);
	return v;
}

TestSuite(i8042, .init = setup, .fini = teardown);

Test(i8042, initial_state)
{
	cr_assert_eq(status(), STS_UNLOCKED);
	cr_assert_eq(data_in(), 0x00);
	cr_assert_eq(status(), STS_UNLOCKED);
}

Test(i8042, self_test)
{
	cmd(0xaa);
	cr_assert_eq(status(), STS_OBF | STS_SYS | STS_CMD | STS_UNLOCKED);
	cr_assert_eq(data_in(), 0x55);
	cr_assert_eq(status(), STS_SYS | STS_CMD | STS_UNLOCKED);
	/* Nothing pending: the last byte again, OBF stays clear. */
	cr_assert_eq(data_in(), 0x55);
	cr_assert_eq(status() & STS_OBF, 0);
	cr_assert_eq(reply(0x20) & 0x04, 0x04);
}

Test(i8042, interface_tests)
{
	cr_assert_eq(reply(0xa9), 0x00);
	cr_assert_eq(reply(0xab), 0x00);
}

Test(i8042, config_round_trip)
{
	cr_assert_eq(reply(0x20), 0x30);
	cmd(0x60);
	cr_assert_eq(status() & (STS_CMD | STS_OBF), STS_CMD);
	data_out(0x47);
	cr_assert_eq(status(), STS_SYS | STS_UNLOCKED);
	cr_assert_eq(reply(0x20), 0x47);
	cmd(0x60);
	data_out(0x01);
	cr_assert_eq(reply(0x20), 0x01);
	cr_assert_eq(status() & STS_SYS, 0);
}

Test(i8042, port_enable_bits)
{
	cmd(0xa8);
	cr_assert_eq(reply(0x20), 0x10);
	cmd(0xae);
	cr_assert_eq(reply(0x20), 0x00);
	cmd(0xa7);
	cr_assert_eq(reply(0x20), 0x20);
	cmd(0xad);
	cr_assert_eq(reply(0x20), 0x30);
}

Test(i8042, output_port)
{
	cr_assert_eq(reply(0xd0), 0x03);
	cmd(0xd1);
	data_out(0x01);
	cr_assert_eq(reply(0xd0), 0x01);
	cmd(0xd1);
	data_out(0xdf);
	cr_assert_eq(reply(0xd0), 0xdf);
	cr_assert_eq(reset_calls, 0);
}

Test(i8042, reset_by_pulse, .timeout = 10)
{
	cmd(0xfe);
	cr_assert_eq(reset_calls, 1);
	cr_assert_eq(status_in_reset & STS_CMD, STS_CMD);
	cmd(0xff); /* pulses nothing */
	cmd(0xf1);
	cr_assert_eq(reset_calls, 1);
	cmd(0xf0);
	cr_assert_eq(reset_calls, 2);
}

Test(i8042, reset_by_output_port, .timeout = 10)
{
	cmd(0xd1);
	cr_assert_eq(reset_calls, 0);
	data_out(0x02);
	cr_assert_eq(reset_calls, 1);
	cr_assert_eq(status_in_reset & STS_CMD, 0);
	cr_assert_eq(reply(0xd0), 0x02);
}

Test(i8042, unknown_command_ignored)
{
	cmd(0x60);
	cmd(0xc5); /* unknown, and it abandons the pending write */
	data_out(0x00);
	cr_assert_eq(status(), STS_UNLOCKED);
	cmd(0x55);
	cmd(0x21);
	cr_assert_eq(status(), STS_CMD | STS_UNLOCKED);
	cr_assert_eq(reply(0x20), 0x30);
	cr_assert_eq(reply(0xd0), 0x03);
	cr_assert_eq(reset_calls, 0);
}

Test(i8042, write_output_buffers)
{
	cmd(0xd3);
	data_out(0x5a);
	cr_assert_eq(status() & (STS_OBF | STS_AUXDATA), STS_OBF | STS_AUXDATA);
	cr_assert_eq(data_in(), 0x5a);
	cr_assert_eq(status() & (STS_OBF | STS_AUXDATA), 0);
	cmd(0xd2);
	data_out(0xab);
	cr_assert_eq(status() & (STS_OBF | STS_AUXDATA), STS_OBF);
	cr_assert_eq(data_in(), 0xab);
}

Test(i8042, absent_devices_do_not_reply)
{
	cmd(0xd4);
	data_out(0xff);
	cr_assert_eq(status() & STS_OBF, 0);
	data_out(0xff); /* keyboard reset */
	data_out(0xf2); /* keyboard identify */
	cr_assert_eq(status(), STS_UNLOCKED);
	cr_assert_eq(reply(0x20), 0x30);
}

Test(i8042, odd_offsets_and_lengths)
{
	uint8_t v[4] = { 0xaa, 0x11, 0x22, 0x33 };
	uint8_t out[4] = { 1, 2, 3, 4 };

	i8042_cmd_ops.write(k, 0, v, 2);
	i8042_cmd_ops.read(k, 0, out, 4);
	cr_assert_eq(out[0], STS_OBF | STS_SYS | STS_CMD | STS_UNLOCKED);
	cr_assert_eq(out[1], 0x00);
	cr_assert_eq(out[3], 0x00);
	i8042_data_ops.read(k, 1, out, 2);
	cr_assert_eq(out[0], 0xff);
	cr_assert_eq(out[1], 0xff);
	v[0] = 0xfe;
	i8042_cmd_ops.write(k, 4, v, 1);
	i8042_data_ops.write(k, UINT64_MAX, v, 1);
	i8042_cmd_ops.write(k, 0, v, 0);
	cr_assert_eq(reset_calls, 0);
	i8042_data_ops.read(k, 0, out, 2);
	cr_assert_eq(out[0], 0x55);
	cr_assert_eq(out[1], 0x00);
}

Test(i8042, no_reset_callback)
{
	struct i8042 *n = i8042_create(NULL, NULL);
	uint8_t v = 0xfe;

	cr_assert_not_null(n);
	i8042_cmd_ops.write(n, 0, &v, 1);
	i8042_cmd_ops.read(n, 0, &v, 1);
	cr_assert_eq(v, STS_CMD | STS_UNLOCKED);
	i8042_destroy(n);
	i8042_destroy(NULL);
}
