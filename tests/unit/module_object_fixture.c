// SPDX-License-Identifier: GPL-2.0
// A relocatable object shaped like a tiny .ko (this_module name, modinfo, DWARF) for ModuleObject's tests.

// struct module starts {enum state; struct list_head list; char name[56];}: the name at 24.
struct kstuck_fixture_this_module {
	char before_name[24];
	char name[56];
};

__attribute__((section(".gnu.linkonce.this_module"), used))
static struct kstuck_fixture_this_module kstuck_fixture_this_module = {{0}, "kstuck_fixture"};

__attribute__((section(".modinfo"), used, aligned(1)))
static const char kstuck_fixture_modinfo[] = "license=GPL\0name=kstuck_fixture";

int kstuck_fixture_counter;

__attribute__((noinline)) int kstuck_fixture_step(int n)
{
	return n + kstuck_fixture_counter;
}

int kstuck_fixture_loop(int rounds)
{
	int sum = 0;

	for (int i = 0; i < rounds; i++)
		sum += kstuck_fixture_step(i);
	return sum;
}
