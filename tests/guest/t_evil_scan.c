// SPDX-License-Identifier: BSD-3-Clause
#include "t_evil.h"
void test_evil_ports(const struct boot_params *bp) { (void)bp; }
void test_evil_mmio(const struct boot_params *bp) { (void)bp; }
