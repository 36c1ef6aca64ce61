#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""rig.booted's retries, on fake guests: which first boots it boots again (the
kernel died in its own boot; QEMU was killed by a signal) and which it reports as they
are (a timeout, a death after kstuck's module loaded, a death after the init spoke)."""
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.vm import rig  # noqa: E402


class FakeProc:
    def __init__(self, returncode):
        self.returncode = returncode


class FakeGuest:
    """Stands in for rig.Guest: a console text, an exit status (None: still running)
    and whether the KSTUCK-BOOTED line ever comes."""
    made = []

    def __init__(self, workdir, console, returncode, boots):
        self.workdir = Path(workdir)
        self.console = self.workdir.with_name(self.workdir.name + "-console.txt")
        self.console.write_text(console)
        self.proc = FakeProc(returncode)
        self.boots = boots
        self.suite = "fake"
        self.killed = False
        FakeGuest.made.append(self)

    def __enter__(self):
        return self

    def alive(self):
        return self.proc.returncode is None

    def text(self):
        return self.console.read_text()

    def user_text(self):
        return "\n".join(line for line in self.text().splitlines() if not line.startswith("["))

    def qemu_last_words(self):
        return ""

    def wait_for(self, pattern, timeout, user=False):
        if not self.boots:
            raise rig.RigError("guest exited before /KSTUCK-BOOTED/")

    def kill(self):
        self.killed = True


class BootRetry(unittest.TestCase):
    def setUp(self):
        FakeGuest.made = []
        self.tmp = tempfile.TemporaryDirectory()
        self.workdir = Path(self.tmp.name) / "suite"

    def tearDown(self):
        self.tmp.cleanup()

    def boot(self, first, first_status):
        """Boots a first guest (console FIRST, exit status FIRST_STATUS, never booted)
        and a second that boots; returns (the guest booted() gave, or the RigError)."""
        plan = [(first, first_status, False), ("KSTUCK-BOOTED: release=x\n", None, True)]

        def make():
            console, status, boots = plan[len(FakeGuest.made)]
            return FakeGuest(self.workdir, console, status, boots)
        try:
            with rig.booted(make, timeout=1) as g:
                return g
        except rig.RigError as e:
            return e

    def test_kernel_oops_in_its_own_boot_is_booted_again(self):
        g = self.boot("[    1.0] Oops: int3: 0000 [#1] SMP\n", 0)
        self.assertIsInstance(g, FakeGuest)
        self.assertEqual(len(FakeGuest.made), 2)
        self.assertIn("Oops: int3", g.boot_retry)
        self.assertTrue((self.workdir.with_name("suite-boot1-console.log")).exists())

    def test_qemu_killed_by_a_signal_is_booted_again(self):
        g = self.boot("[    1.2] pci 0000:00:00.0: [8086:29c0] type 00 class 0x060000\n", -11)
        self.assertIsInstance(g, FakeGuest)
        self.assertIn("QEMU killed by signal 11", g.boot_retry)

    def test_clean_exit_without_a_death_is_not_retried(self):
        e = self.boot("[    1.0] reboot: Power down\n", 0)
        self.assertIsInstance(e, rig.RigError)
        self.assertEqual(len(FakeGuest.made), 1)

    def test_a_timeout_is_not_retried(self):
        e = self.boot("[    1.0] Oops: int3\n", None)
        self.assertIsInstance(e, rig.RigError)
        self.assertEqual(len(FakeGuest.made), 1)

    def test_a_death_with_kstuck_loaded_is_not_retried(self):
        e = self.boot("[    9.0] Oops: general protection fault\n[    9.0] Modules linked in: kstuck(OE)\n", -11)
        self.assertIsInstance(e, rig.RigError)
        self.assertEqual(len(FakeGuest.made), 1)

    def test_a_death_after_the_init_spoke_is_not_retried(self):
        e = self.boot("KSTUCK-WARN: qemu_fw_cfg did not load\n[    2.0] Kernel panic - not syncing: x\n", 0)
        self.assertIsInstance(e, rig.RigError)
        self.assertEqual(len(FakeGuest.made), 1)

    def test_two_deaths_then_a_boot(self):
        def make():
            n = len(FakeGuest.made)
            if n < 2:
                return FakeGuest(self.workdir, f"[    1.{n}] Oops: int3 number {n}\n", 0, False)
            return FakeGuest(self.workdir, "KSTUCK-BOOTED: release=x\n", None, True)
        with rig.booted(make, timeout=1) as g:
            self.assertEqual(len(FakeGuest.made), 3)
            self.assertIn("number 0", g.boot_retry)
            self.assertIn("number 1", g.boot_retry)
        for n in (1, 2):
            self.assertTrue(self.workdir.with_name(f"suite-boot{n}-console.log").exists())

    def test_the_last_death_is_reported(self):
        def make():
            return FakeGuest(self.workdir, "[    1.0] Oops: int3\n", 0, False)
        with self.assertRaises(rig.RigError):
            with rig.booted(make, timeout=1):
                pass
        self.assertEqual(len(FakeGuest.made), rig.BOOT_ATTEMPTS)


if __name__ == "__main__":
    unittest.main()
