#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The man page (docs/man/kstuck.1.scd) and the binary's own help agree: the same
commands (nmi's subcommands each their own), and per command the same options, each
taking a value in both or in neither; kstuck --version and the exit codes too.

usage: man_check.py KSTUCK_BINARY MAN_SCD [SCDOC]"""
import re
import subprocess
import sys

HELP_OPTION = re.compile(r"^  (?:-([a-zA-Z]) \[ )?--([a-z][a-z0-9-]*)(?: \])?( arg)?")


def run(binary, *args):
    p = subprocess.run([binary, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    return p.returncode, p.stdout


def help_commands(binary):
    rc, out = run(binary, "--help")
    block = out.split("\ncommands:\n", 1)[1].split("\n\n", 1)[0]
    return rc, [line.split()[0] for line in block.splitlines() if line.strip()]


def help_options(text):
    """{'--vmlinux': True (takes a value), ...} and short options {'-q': '--quiet'}."""
    opts, shorts = {}, {}
    for line in text.splitlines():
        m = HELP_OPTION.match(line)
        if m and m.group(2) != "help":
            opts["--" + m.group(2)] = bool(m.group(3))
            if m.group(1):
                shorts["-" + m.group(1)] = "--" + m.group(2)
    return opts, shorts


def subcommands(text):
    """A command whose usage is 'COMMAND SUBCOMMAND': the subcommands it lists."""
    if not re.match(r"usage: kstuck \S+ SUBCOMMAND", text.splitlines()[0]):
        return []
    return [m.group(1) for m in re.finditer(r"^  ([a-z]+)\s", text, re.M)]


def man_sections(scd):
    """{'hang': [lines], 'nmi capture': [...]} of the '## ' subsections under '# COMMANDS'."""
    sections, current, in_commands = {}, None, False
    for line in scd.splitlines():
        if line.startswith("# "):
            in_commands = line == "# COMMANDS"
            current = None
            continue
        if in_commands and line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
            continue
        if current is not None:
            sections[current].append(line)
    return sections


def man_options(lines):
    """Options of definition lines (a line starting '*-' followed by a tab-indented
    line): {'--cpu': True (an _ARG_ follows it)} and short ones {'-q': '--quiet'}."""
    opts, shorts = {}, {}
    for i, line in enumerate(lines):
        if not line.startswith("*-") or i + 1 >= len(lines) or not lines[i + 1].startswith("\t"):
            continue
        for m in re.finditer(r"\*(-[a-zA-Z]|--[a-z][a-z0-9-]*)\*( _[^_]+_)?", line):
            name, arg = m.group(1), bool(m.group(2))
            if name.startswith("--"):
                opts[name] = arg
        m = re.match(r"^\*-([a-zA-Z])\*, \*(--[a-z][a-z0-9-]*)\*", line)
        if m:
            shorts["-" + m.group(1)] = m.group(2)
    return opts, shorts


def main():
    binary, scd_path = sys.argv[1], sys.argv[2]
    scdoc = sys.argv[3] if len(sys.argv) > 3 else None
    scd = open(scd_path, encoding="utf-8").read()
    passed, failed = 0, 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
        if ok:
            passed += 1
        else:
            failed += 1

    rc, out = run(binary, "--version")
    check("version", rc == 0 and re.fullmatch(r"kstuck \d+\.\d+\.\d+\n", out) is not None, repr(out))
    rc, commands = help_commands(binary)
    check("help-exit-0", rc == 0, f"kstuck --help exit {rc}")

    # The man page's command list: each command, or each of its subcommands.
    wanted = {}
    for c in commands:
        rc, text = run(binary, "help", c)
        check(f"help-{c}-exit-0", rc == 0, f"kstuck help {c} exit {rc}: {text[:200]}")
        rc2, text2 = run(binary, c, "--help")
        check(f"help-{c}-is-its-own-help", text == text2, "kstuck help X differs from kstuck X --help")
        subs = subcommands(text)
        if subs:
            for s in subs:
                rc, sub_text = run(binary, "help", c, s)
                check(f"help-{c}-{s}-exit-0", rc == 0, f"exit {rc}")
                wanted[f"{c} {s}"] = sub_text
        else:
            wanted[c] = text
    sections = man_sections(scd)
    check("man-has-every-command", set(wanted) <= set(sections), f"missing: {sorted(set(wanted) - set(sections))}")
    check("man-has-no-other-command", set(sections) <= set(wanted), f"not in kstuck: {sorted(set(sections) - set(wanted))}")

    for name in sorted(set(wanted) & set(sections)):
        h_opts, h_shorts = help_options(wanted[name])
        m_opts, m_shorts = man_options(sections[name])
        check(f"man-{name.replace(' ', '-')}-options", h_opts.keys() == m_opts.keys(),
              f"help only {sorted(h_opts.keys() - m_opts.keys())}, man only {sorted(m_opts.keys() - h_opts.keys())}")
        differ = sorted(o for o in h_opts.keys() & m_opts.keys() if h_opts[o] != m_opts[o])
        check(f"man-{name.replace(' ', '-')}-option-values", not differ,
              f"takes a value in one and not the other: {differ}")
        check(f"man-{name.replace(' ', '-')}-short-options", h_shorts == m_shorts, f"help {h_shorts}, man {m_shorts}")
        synopsis = next((line for line in sections[name] if line.startswith("*kstuck ")), "")
        check(f"man-{name.replace(' ', '-')}-synopsis", synopsis.startswith(f"*kstuck {name}*"), repr(synopsis))
        usage = wanted[name].splitlines()[0]
        check(f"help-{name.replace(' ', '-')}-usage", usage.startswith(f"usage: kstuck {name}"), repr(usage))

    # The exit codes kstuck prints are the ones the man page lists.
    rc, out = run(binary, "--help")
    codes = re.findall(r"\b(\d) [a-z]", out.split("exit status:", 1)[-1].splitlines()[0])
    status = scd.split("# EXIT STATUS", 1)[-1].split("\n# ", 1)[0]
    man_codes = re.findall(r"^\*(\d)\*$", status, re.M)
    check("exit-codes", sorted(codes) == sorted(man_codes) == ["0", "1", "2", "3"], f"help {codes}, man {man_codes}")
    # Unknown commands and options are usage errors.
    check("unknown-command-exit-2", run(binary, "no-such-command")[0] == 2)
    check("unknown-global-option-exit-2", run(binary, "--no-such-option")[0] == 2)
    check("help-unknown-command-exit-2", run(binary, "help", "no-such-command")[0] == 2)

    if scdoc:
        p = subprocess.run([scdoc], input=scd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        check("scdoc-renders", p.returncode == 0 and ".TH" in p.stdout and "EXIT STATUS" in p.stdout, p.stderr)

    print(f"man: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
