// SPDX-License-Identifier: BSD-3-Clause
#include "t_evil.h"
void test_evil_reset(const struct boot_params *bp) { (void)bp; }
