/* SPDX-License-Identifier: GPL-2.0 */
/* The C boundary between crash (crash_bridge.c, the only user of <crash/defs.h>) and kstuck's C++ side. */
#ifndef KSTUCK_CRASH_BRIDGE_H
#define KSTUCK_CRASH_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Every function returns a status instead of letting crash's error(FATAL) longjmp
 * out: 0 on success, a negative value when the thing is missing or unreadable.
 */

/* Reads len bytes of kernel virtual memory; on failure *fault is the first unreadable address. */
int kstuck_bridge_read(uint64_t kvaddr, void *buf, size_t len, uint64_t *fault);

/* A vmlinux symbol's address (KASLR applied); module symbols are not looked at. */
int kstuck_bridge_symbol_address(const char *name, uint64_t *address);

/* The vmlinux symbol containing address: its name (NUL-terminated, truncated to fit) and start. */
int kstuck_bridge_symbol_at(uint64_t address, char *name, size_t name_len, uint64_t *start);

/* The vmlinux file crash loaded its symbols from (pc->namelist), or NULL. */
const char *kstuck_bridge_namelist(void);

/* Size of a struct, union, typedef or base type ("task_struct", "int"), or -1. */
long kstuck_bridge_struct_size(const char *name);

enum kstuck_bridge_type_kind {
	KSTUCK_BRIDGE_TYPE_OTHER,     /* base types and typedefs (gdb's codes for these vary) */
	KSTUCK_BRIDGE_TYPE_STRUCT,
	KSTUCK_BRIDGE_TYPE_UNION,
	KSTUCK_BRIDGE_TYPE_POINTER,
	KSTUCK_BRIDGE_TYPE_ARRAY,
	KSTUCK_BRIDGE_TYPE_ENUM,
};

struct kstuck_bridge_member_info {
	long offset;          /* bytes */
	long size;            /* bytes; for a bitfield the size crash reports */
	int kind;             /* enum kstuck_bridge_type_kind of the member itself */
	char type_name[128];  /* crash's MEMBER_TYPE_NAME: the base type, pointers and arrays stripped */
};

/*
 * Whether a type name ("upid", "struct upid", "char", "atomic_t") is a struct, a union
 * (typedefs of them count as other) or anything else, and its size; -1 if unknown.
 */
int kstuck_bridge_type_info(const char *name, long *size);

/* One member (no dots) of a struct or union, anonymous-union members included. */
int kstuck_bridge_member(const char *struct_name, const char *member, struct kstuck_bridge_member_info *out);

/*
 * gdb's "ptype /o" of a struct or union (byte and bit offsets of every member, bitfield
 * widths: datatype_info() has no bit positions), malloc'ed, or NULL.
 */
char *kstuck_bridge_ptype_offsets(const char *struct_name);

/* Number of CPUs crash knows of (kt->cpus). */
int kstuck_bridge_cpu_count(void);

/* __per_cpu_offset[cpu] as crash read it at start-up. */
int kstuck_bridge_per_cpu_offset(int cpu, uint64_t *offset);

/*
 * The registers of the index-th NT_PRSTATUS note in the dump file, in the dump's order
 * (struct pt_regs order, the first 21 of user_regs_struct) and the note's pid; -1 past
 * the last note. Which CPU a note belongs to is decided by the kernel model (load_cpus).
 */
#define KSTUCK_BRIDGE_NREGS 21
int kstuck_bridge_cpu_registers(int index, uint64_t regs[KSTUCK_BRIDGE_NREGS], int64_t *pid);

/* A VMCOREINFO value of the dump as a malloc'ed string (free with kstuck_bridge_free), or NULL. */
char *kstuck_bridge_vmcoreinfo(const char *key);
void kstuck_bridge_free(void *p);

/* Output to crash's current output stream (it follows "| grep" and "> file"). */
void kstuck_bridge_write(const char *text, size_t len);

/* The C++ side's command entry point: never throws, returns after printing any error. */
void kstuck_crash_command(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif /* KSTUCK_CRASH_BRIDGE_H */
