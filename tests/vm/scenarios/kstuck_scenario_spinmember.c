// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: kstuck_scenario_spinstatic with its lock a member of a kmalloc'ed struct,
 * taken through a pointer (base + offset). Never load it outside the test guest.
 */
#define KSTUCK_SPIN_MEMBER 1
#include "kstuck_scenario_spinstatic.c"
