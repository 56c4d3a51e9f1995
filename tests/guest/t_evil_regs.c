// SPDX-License-Identifier: BSD-3-Clause
#include "t_evil.h"
void test_evil_regs(const struct boot_params *bp) { (void)bp; }
void test_evil_msix(const struct boot_params *bp) { (void)bp; }
