// SPDX-License-Identifier: GPL-2.0
/*
 * The crash side of the kstuck extension: registers the "kstuck" command and gives
 * the C++ side bounded, status-returning access to crash's memory, symbols, types,
 * per-CPU data and dump notes. It is the only file that includes <crash/defs.h>.
 */
#include <crash/defs.h>
#include <elf.h>

#include "crash_ext/crash_bridge.h"

/* x86-64 struct elf_prstatus: pr_pid at 32, pr_reg (user_regs_struct, 27 longs) at 112. */
#define KSTUCK_PRSTATUS_PID_OFFSET 32
#define KSTUCK_PRSTATUS_REG_OFFSET 112
#define KSTUCK_PRSTATUS_MIN_SIZE (KSTUCK_PRSTATUS_REG_OFFSET + 27 * 8)

static char *kstuck_help[] = {
	"kstuck",
	"who waits on whom, and why (kstuck's analyses)",
	"hang [-j|-d] [-s seconds] | xcall [-c cpu] [-j] | mutex [address] [-j] | nmi [-a] [-j] | bt [-a | pid | -c cpu] [-j]",
	"  Runs kstuck's analyses over this crash session's dump, with the same code",
	"  and the same report renderers as the kstuck command-line tool. Tasks are",
	"  walked and stacks unwound by kstuck itself (ORC), not by crash's \"bt\".",
	"  The kernel model (CPUs, tasks, modules, ORC tables) loads on the first",
	"  command and is kept for the session.",
	"",
	"    hang     the verdict (DEADLOCK, STUCK or NONE) and the chains of who",
	"             waits on whom: mutexes, rwsems, cross-CPU calls, spinning CPUs.",
	"             -d prints the wait-for graph as Graphviz DOT. -s seconds: how",
	"             long a runnable task kept off a busy CPU counts as starved",
	"             (default 20, the CLI's --starved-after).",
	"    xcall    cross-CPU function calls (CSDs) queued, locked or waited for,",
	"             with sender and target CPU; -c cpu: those it runs or sent.",
	"    mutex    the mutexes and rwsems tasks sleep on: owner, flags, waiters",
	"             and how each waiter's lock was found; with an address, only",
	"             that lock (read directly if no task waits on it).",
	"    nmi      the newest NMI backtrace snapshot kstuck.ko captured in this",
	"             dump; -a every snapshot kept.",
	"    bt       backtraces from kstuck's unwinder: -a every CPU, pid one task,",
	"             -c cpu one CPU; without arguments every task.",
	"",
	"  -j prints JSON instead of text: the JSON the kstuck tool prints for the",
	"  same dump (\"kstuck hang VMCORE --vmlinux VMLINUX --json\", \"kstuck xcall",
	"  ... --cpu N --json\", \"kstuck nmi show --vmcore ... --json\", \"kstuck bt",
	"  ... --cpu N --json\"; bt -a -j prints a list of the per-CPU objects).",
	"  A read fault or a missing page is reported as an error and the command",
	"  returns to the crash prompt; nothing in the dump can end the session.",
	"",
	"EXAMPLES",
	"    crash> extend kstuck.so",
	"    crash> kstuck hang",
	"    crash> kstuck xcall -c 3 -j",
	"    crash> kstuck mutex ffffffffc0536040",
	"    crash> kstuck bt -c 2",
	NULL
};

static void kstuck_cmd(void)
{
	/* args[0] is "kstuck": the C++ side parses the rest itself. */
	kstuck_crash_command(argcnt, args);
}

static struct command_table_entry kstuck_command_table[] = {
	{ "kstuck", kstuck_cmd, kstuck_help, 0 },
	{ NULL, NULL, NULL, 0 },
};

void __attribute__((constructor)) kstuck_crash_init(void)
{
	register_extension(kstuck_command_table);
}

void __attribute__((destructor)) kstuck_crash_fini(void)
{
}

int kstuck_bridge_read(uint64_t kvaddr, void *buf, size_t len, uint64_t *fault)
{
	size_t done = 0;

	if (len == 0)
		return 0;
	if (kvaddr + len < kvaddr) {
		if (fault)
			*fault = kvaddr;
		return -1;
	}
	if (readmem(kvaddr, KVADDR, buf, (long)len, "kstuck", RETURN_ON_ERROR | QUIET))
		return 0;
	/* Find the first unreadable address, page by page, for the error message. */
	while (done < len) {
		uint64_t addr = kvaddr + done;
		size_t chunk = PAGESIZE() - (addr & (PAGESIZE() - 1));

		if (chunk > len - done)
			chunk = len - done;
		if (!readmem(addr, KVADDR, (char *)buf + done, (long)chunk, "kstuck",
			     RETURN_ON_ERROR | QUIET)) {
			if (fault)
				*fault = addr;
			return -1;
		}
		done += chunk;
	}
	/* The whole read failed but every piece worked: report the start. */
	if (fault)
		*fault = kvaddr;
	return -1;
}

int kstuck_bridge_symbol_address(const char *name, uint64_t *address)
{
	struct syment *sp;

	if (!name || !*name)
		return -1;
	/* symbol_value() is error(FATAL) on a miss: search, never ask blindly. */
	sp = kernel_symbol_search((char *)name);
	if (!sp)
		return -1;
	*address = sp->value;
	return 0;
}

int kstuck_bridge_symbol_at(uint64_t address, char *name, size_t name_len, uint64_t *start)
{
	struct syment *sp;
	ulong offset = 0;

	if (!name || name_len == 0)
		return -1;
	/* Module symbols are the kernel model's job, as with every other Target. */
	if (module_symbol(address, NULL, NULL, NULL, 0))
		return -1;
	sp = value_search(address, &offset);
	if (!sp || !sp->name)
		return -1;
	snprintf(name, name_len, "%s", sp->name);
	*start = sp->value;
	return 0;
}

const char *kstuck_bridge_namelist(void)
{
	return pc->namelist;
}

static const char *kstuck_strip_tag(const char *name)
{
	if (strncmp(name, "struct ", 7) == 0)
		return name + 7;
	if (strncmp(name, "union ", 6) == 0)
		return name + 6;
	return name;
}

long kstuck_bridge_struct_size(const char *name)
{
	if (!name || !*name)
		return -1;
	return STRUCT_SIZE((char *)kstuck_strip_tag(name));
}

int kstuck_bridge_type_info(const char *name, long *size)
{
	static const char *const tags[] = { "", "struct ", "union " };
	struct gnu_request *req;
	char buf[BUFSIZE];
	int kind = -1;
	size_t i;

	if (!name || !*name || strlen(name) > BUFSIZE / 2)
		return -1;
	name = kstuck_strip_tag(name);
	/* The look-up datatype_info() does, keeping what it drops: the typecode. */
	req = (struct gnu_request *)GETBUF(sizeof(*req));
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		memset(req, 0, sizeof(*req));
		snprintf(buf, sizeof(buf), "%s%s", tags[i], name);
		req->command = GNU_GET_DATATYPE;
		req->flags = GNU_RETURN_ON_ERROR;
		req->name = buf;
		req->fp = pc->nullfp;
		gdb_interface(req);
		if (req->flags & GNU_COMMAND_FAILED)
			break;
		if (!req->typecode)
			continue;
		if (size)
			*size = (long)req->length;
		kind = KSTUCK_BRIDGE_TYPE_OTHER;
		if (!req->is_typedef && req->typecode == TYPE_CODE_STRUCT)
			kind = KSTUCK_BRIDGE_TYPE_STRUCT;
		else if (!req->is_typedef && req->typecode == TYPE_CODE_UNION)
			kind = KSTUCK_BRIDGE_TYPE_UNION;
		break;
	}
	FREEBUF(req);
	return kind;
}

int kstuck_bridge_member(const char *struct_name, const char *member, struct kstuck_bridge_member_info *out)
{
	char *sname, *type;
	long offset;

	if (!struct_name || !member || !*member || !out)
		return -1;
	sname = (char *)kstuck_strip_tag(struct_name);
	memset(out, 0, sizeof(*out));
	offset = MEMBER_OFFSET(sname, (char *)member);
	if (offset < 0) {
		/* Members of anonymous structs and unions. */
		offset = ANON_MEMBER_OFFSET(sname, (char *)member);
		if (offset < 0)
			return -1;
		out->offset = offset;
		out->size = ANON_MEMBER_SIZE(sname, (char *)member);
	} else {
		out->offset = offset;
		out->size = MEMBER_SIZE(sname, (char *)member);
	}
	type = MEMBER_TYPE_NAME(sname, (char *)member);
	if (type && type != (char *)-1)
		snprintf(out->type_name, sizeof(out->type_name), "%s", type);
	switch (MEMBER_TYPE(sname, (char *)member)) {
	case TYPE_CODE_STRUCT:
		out->kind = KSTUCK_BRIDGE_TYPE_STRUCT;
		break;
	case TYPE_CODE_UNION:
		out->kind = KSTUCK_BRIDGE_TYPE_UNION;
		break;
	case TYPE_CODE_PTR:
		out->kind = KSTUCK_BRIDGE_TYPE_POINTER;
		break;
	case TYPE_CODE_ARRAY:
		out->kind = KSTUCK_BRIDGE_TYPE_ARRAY;
		break;
	case TYPE_CODE_ENUM:
		out->kind = KSTUCK_BRIDGE_TYPE_ENUM;
		break;
	default:
		out->kind = KSTUCK_BRIDGE_TYPE_OTHER;
		break;
	}
	return 0;
}

char *kstuck_bridge_ptype_offsets(const char *struct_name)
{
	static const char *const tags[] = { "struct ", "union ", "" };
	char cmd[BUFSIZE];
	char *text = NULL;
	size_t i;

	if (!struct_name || !*struct_name || strlen(struct_name) > BUFSIZE / 2)
		return NULL;
	struct_name = kstuck_strip_tag(struct_name);
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]) && !text; i++) {
		FILE *out = tmpfile();
		long len;

		if (!out)
			return NULL;
		snprintf(cmd, sizeof(cmd), "ptype /o %s%s", tags[i], struct_name);
		/* GNU_RETURN_ON_ERROR: an unknown name fails the request, never longjmps. */
		if (gdb_pass_through(cmd, out, GNU_RETURN_ON_ERROR) && (len = ftell(out)) > 0 &&
		    len < 16 * 1024 * 1024) {
			text = malloc(len + 1);
			rewind(out);
			if (text && fread(text, 1, len, out) == (size_t)len) {
				text[len] = '\0';
			} else {
				free(text);
				text = NULL;
			}
		}
		fclose(out);
	}
	return text;
}

int kstuck_bridge_cpu_count(void)
{
	return kt->cpus;
}

int kstuck_bridge_per_cpu_offset(int cpu, uint64_t *offset)
{
	if (cpu < 0 || cpu >= kt->cpus || cpu >= NR_CPUS)
		return -1;
	*offset = (uint64_t)kt->__per_cpu_offset[cpu];
	return 0;
}

/* The NT_PRSTATUS note crash holds for a CPU, from the dump file's note section. */
static Elf64_Nhdr *kstuck_prstatus_note(int cpu)
{
	if (DISKDUMP_DUMPFILE())
		return diskdump_get_prstatus_percpu(cpu);
	if (NETDUMP_DUMPFILE() || KDUMP_DUMPFILE())
		return netdump_get_prstatus_percpu(cpu);
	return NULL;
}

/*
 * The index-th register note in the dump's order. crash files the notes under CPUs
 * itself (map_cpus_to_prstatus*(): the n-th note to the n-th online CPU with a
 * crash_notes note; QEMU dumps untouched); kstuck ties notes to CPUs by identity in
 * analysis/kernel/cpus.cpp, for vmcores and crash sessions alike, so it wants the list
 * as the dump holds it. crash's filing keeps the order: its non-NULL entries, by
 * ascending CPU, are the dump's notes in order.
 */
static Elf64_Nhdr *kstuck_prstatus_note_at(int index)
{
	int cpu, seen = 0;

	for (cpu = 0; cpu < kt->cpus && cpu < NR_CPUS; cpu++) {
		Elf64_Nhdr *note = kstuck_prstatus_note(cpu);

		if (note && seen++ == index)
			return note;
	}
	return NULL;
}

int kstuck_bridge_cpu_registers(int index, uint64_t regs[KSTUCK_BRIDGE_NREGS], int64_t *pid)
{
	Elf64_Nhdr *note;
	const unsigned char *desc;
	int32_t note_pid;

	if (index < 0 || index >= kt->cpus)
		return -1;
	note = kstuck_prstatus_note_at(index);
	if (!note || note->n_type != NT_PRSTATUS || note->n_descsz < KSTUCK_PRSTATUS_MIN_SIZE)
		return -1;
	desc = (const unsigned char *)note + sizeof(*note) + roundup(note->n_namesz, 4);
	memcpy(&note_pid, desc + KSTUCK_PRSTATUS_PID_OFFSET, sizeof(note_pid));
	memcpy(regs, desc + KSTUCK_PRSTATUS_REG_OFFSET, KSTUCK_BRIDGE_NREGS * sizeof(uint64_t));
	if (pid)
		*pid = note_pid;
	return 0;
}

char *kstuck_bridge_vmcoreinfo(const char *key)
{
	if (!key || !pc->read_vmcoreinfo)
		return NULL;
	return pc->read_vmcoreinfo(key);
}

void kstuck_bridge_free(void *p)
{
	free(p);
}

void kstuck_bridge_write(const char *text, size_t len)
{
	if (len)
		fwrite(text, 1, len, fp);
}
