/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * THE NMI snapshot record format: written by kstuck.ko in NMI context, read by the
 * kstuck CLI (live through /dev/kstuck), the dump analyzer and the crash extension.
 *
 * Layout of the history buffer (one contiguous, page-aligned, preallocated block):
 *
 *   struct nmi_dump_buffer_header                  at offset 0 (starts with the magic)
 *   slot 0 .. nr_slots-1                           at header_size + i * slot_size
 *
 * A slot holds one snapshot: a struct nmi_dump_snapshot record, then nr_cpu_records
 * struct nmi_dump_cpu records (position i belongs to CPU i). Every record starts with
 * struct nmi_dump_record {type, size}; a reader walks records by size, skips types it
 * does not know and stops at type NMI_DUMP_REC_END (a never-used slot is all zero).
 *
 * Compatibility: fields are only ever appended to a struct (readers use a field only
 * when the record's size covers it); a new minor version may add record types and
 * fields; a new major version is incompatible and readers must refuse it. Only
 * __u8/__u16/__u32/__u64 and fixed arrays of them appear; all values are little
 * endian (x86-64 only), every struct is 8-byte aligned and padded explicitly.
 *
 * Finding the buffer in a vmcore: kstuck.ko's global "nmi_dump_buffer" is a POINTER
 * (struct nmi_dump_buffer_header *) to the vmalloc'ed buffer and "nmi_dump_buffer_size"
 * (__u64) its length in bytes. Without module symbols, scan page-aligned addresses for
 * NMI_DUMP_MAGIC and validate the header (major, header_size, slot_size, buffer_size
 * and self_kaddr, which holds the buffer's own kernel virtual address).
 */
#ifndef NMI_DUMP_UAPI_RECORD_H
#define NMI_DUMP_UAPI_RECORD_H

#include <linux/types.h>

/* The 8 bytes "kstuckNM" read as a little-endian __u64. */
#define NMI_DUMP_MAGIC		0x4d4e6b637574736bULL
#define NMI_DUMP_MAGIC_BYTES	"kstuckNM"

#define NMI_DUMP_FORMAT_MAJOR	1
#define NMI_DUMP_FORMAT_MINOR	1	/* 1.1: header counters and pinned_slots, CPU_STOPPED */

/* Capacity of nmi_dump_cpu.frames[]; a deeper stack sets NMI_DUMP_STACK_TRUNCATED. */
#define NMI_DUMP_MAX_FRAMES	64
/* Registers in struct pt_regs order (x86-64), see NMI_DUMP_REG_*. */
#define NMI_DUMP_NR_REGS	21
#define NMI_DUMP_COMM_LEN	16

/* Record types (nmi_dump_record.type). */
enum {
	NMI_DUMP_REC_END = 0,		/* no more records in this slot */
	NMI_DUMP_REC_SNAPSHOT = 1,	/* struct nmi_dump_snapshot */
	NMI_DUMP_REC_CPU = 2,		/* struct nmi_dump_cpu */
};

/* Why a snapshot was taken (nmi_dump_snapshot.trigger). */
enum {
	NMI_DUMP_TRIGGER_ON_DEMAND = 1,	/* KSTUCK_IOC_NMI_CAPTURE from user space */
	NMI_DUMP_TRIGGER_UNKNOWN_NMI = 2,	/* external NMI (BMC button, QEMU inject-nmi) */
	NMI_DUMP_TRIGGER_PANIC = 3,	/* panic notifier */
	NMI_DUMP_TRIGGER_WATCHDOG = 4,	/* kstuck's stall watchdog saw a CPU stop */
};

/* nmi_dump_snapshot.state */
enum {
	NMI_DUMP_STATE_EMPTY = 0,	/* slot never used */
	NMI_DUMP_STATE_CAPTURING = 1,	/* CPUs may still be writing (dump taken mid-capture) */
	NMI_DUMP_STATE_COMPLETE = 2,	/* the wait ended; no CPU writes this slot any more */
};

/* nmi_dump_cpu.status bits */
#define NMI_DUMP_CPU_REQUESTED	(1u << 0)	/* an NMI was asked of this CPU */
#define NMI_DUMP_CPU_ANSWERED	(1u << 1)	/* the CPU wrote this record; fields valid */
#define NMI_DUMP_CPU_SELF	(1u << 2)	/* written by the initiating CPU itself */
#define NMI_DUMP_CPU_OFFLINE	(1u << 3)	/* CPU was not online: not requested */
#define NMI_DUMP_CPU_TIMED_OUT	(1u << 4)	/* requested, no answer within the bound */
#define NMI_DUMP_CPU_STOPPED	(1u << 5)	/* 1.1, panic snapshots: the kernel had stopped
						 * this CPU (smp_send_stop/NMI shootdown) before
						 * the panic notifiers ran; it left the online
						 * mask but is not offline. ANSWERED: its stack
						 * where the stop halted it */

/* nmi_dump_cpu.context bits: the context the NMI interrupted. */
#define NMI_DUMP_CTX_USER	(1u << 0)	/* user mode (regs are user registers; no frames) */
#define NMI_DUMP_CTX_IRQS_ON	(1u << 1)	/* X86_EFLAGS_IF set in the saved flags */
#define NMI_DUMP_CTX_HARDIRQ	(1u << 2)	/* in a hard interrupt handler */
#define NMI_DUMP_CTX_SOFTIRQ	(1u << 3)	/* serving a softirq */
#define NMI_DUMP_CTX_BH_OFF	(1u << 4)	/* bottom halves disabled (local_bh_disable) */
#define NMI_DUMP_CTX_NMI	(1u << 5)	/* inside another NMI handler */
#define NMI_DUMP_CTX_IDLE	(1u << 6)	/* current is the CPU's idle task */
#define NMI_DUMP_CTX_NO_REGS	(1u << 7)	/* no interrupted regs (panic CPU): regs are the
						 * capturing function's own, frames start there */

/* nmi_dump_cpu.stack_flags bits */
#define NMI_DUMP_STACK_TRUNCATED	(1u << 0)	/* more than NMI_DUMP_MAX_FRAMES frames */
#define NMI_DUMP_STACK_UNWIND_ERROR	(1u << 1)	/* the ORC unwinder reported an error */
#define NMI_DUMP_STACK_RESYNCED		(1u << 2)	/* ORC had no frame info at rip (entry
							 * code, retpoline thunks): frames[1] is
							 * the word at rsp, taken as a return
							 * address, and unwinding went on from it */

/* Indexes into nmi_dump_cpu.regs[] (struct pt_regs order). */
enum {
	NMI_DUMP_REG_R15, NMI_DUMP_REG_R14, NMI_DUMP_REG_R13, NMI_DUMP_REG_R12,
	NMI_DUMP_REG_RBP, NMI_DUMP_REG_RBX, NMI_DUMP_REG_R11, NMI_DUMP_REG_R10,
	NMI_DUMP_REG_R9, NMI_DUMP_REG_R8, NMI_DUMP_REG_RAX, NMI_DUMP_REG_RCX,
	NMI_DUMP_REG_RDX, NMI_DUMP_REG_RSI, NMI_DUMP_REG_RDI, NMI_DUMP_REG_ORIG_RAX,
	NMI_DUMP_REG_RIP, NMI_DUMP_REG_CS, NMI_DUMP_REG_EFLAGS, NMI_DUMP_REG_RSP,
	NMI_DUMP_REG_SS,
};

/* The common start of every record. */
struct nmi_dump_record {
	__u32 type;		/* NMI_DUMP_REC_* */
	__u32 size;		/* bytes of the whole record, this header included; multiple of 8 */
};

/* At offset 0 of the buffer. Not a record: the one fixed entry point. */
struct nmi_dump_buffer_header {
	__u64 magic;		/* NMI_DUMP_MAGIC */
	__u16 major;		/* NMI_DUMP_FORMAT_MAJOR of the writer */
	__u16 minor;		/* NMI_DUMP_FORMAT_MINOR of the writer */
	__u32 header_size;	/* bytes of this header; slot 0 starts here */
	__u32 slot_size;	/* bytes per slot (snapshot record + CPU records, padded) */
	__u32 nr_slots;		/* snapshots kept (history depth, module param nmi_history) */
	__u32 nr_cpu_records;	/* CPU records per slot: nr_cpu_ids when loaded */
	__u32 max_frames;	/* NMI_DUMP_MAX_FRAMES of the writer */
	__u64 buffer_size;	/* header_size + nr_slots * slot_size, bytes */
	__u64 write_seq;	/* snapshots started so far; without pinned slots snapshot s
				 * lives in slot s % nr_slots (readers take each slot's seq) */
	__u64 self_kaddr;	/* kernel virtual address of this header (dump cross-check) */
	__u64 load_realtime_ns;	/* CLOCK_REALTIME when the module loaded, ns since the epoch */
	__u64 load_mono_ns;	/* CLOCK_MONOTONIC at the same moment, ns since boot */
	/* Format 1.1 (zero when written by 1.0): */
	__u32 pinned_slots;	/* leading slots that keep their first snapshot for good:
				 * 1 = slot 0 holds the first snapshot taken by an external
				 * NMI, the watchdog or a panic (the hang's first sign);
				 * every other snapshot rotates through the slots after them.
				 * 0 = all slots rotate (snapshot s in slot s % nr_slots) */
	__u32 reserved0;	/* zero */
	__u64 unknown_nmis;	/* external/unknown NMIs that reached kstuck's handler */
	__u64 unknown_captured;	/* of them, taken as a snapshot */
	__u64 unknown_ratelimited;	/* of them, not taken: within unknown_nmi_interval_ms
					 * of the last external-NMI snapshot */
	__u64 unknown_busy;	/* of them, not taken: another capture was in flight */
};

/* First record of a slot. */
struct nmi_dump_snapshot {
	struct nmi_dump_record rec;	/* NMI_DUMP_REC_SNAPSHOT */
	__u64 seq;		/* sequence number, 0-based, never reused while loaded */
	__u32 trigger;		/* NMI_DUMP_TRIGGER_* */
	__u32 state;		/* NMI_DUMP_STATE_* */
	__u32 initiator_cpu;	/* CPU that started the capture */
	__u32 nr_cpu_records;	/* CPU records following this one in the slot */
	__u32 nr_requested;	/* CPUs asked (online CPUs, the initiator included) */
	__u32 nr_answered;	/* CPUs that wrote their record before the bound expired */
	__u64 start_ns;		/* CLOCK_MONOTONIC (ktime_get_mono_fast_ns) at the request, ns */
	__u64 end_ns;		/* CLOCK_MONOTONIC when the wait ended, ns */
	__u64 realtime_ns;	/* CLOCK_REALTIME at the request, ns since the epoch */
	__u32 timeout_ms;	/* the bound the initiator waited at most, ms */
	__u32 stalled_cpu;	/* watchdog: CPU whose heartbeat stopped; else 0xffffffff */
	__u64 stall_ns;		/* watchdog: how long that heartbeat had been silent, ns */
};

/* One CPU of a snapshot; position i of the slot belongs to CPU i. */
struct nmi_dump_cpu {
	struct nmi_dump_record rec;	/* NMI_DUMP_REC_CPU */
	__u32 cpu;		/* CPU number */
	__u32 status;		/* NMI_DUMP_CPU_*; fields below are valid only if ANSWERED */
	__u64 timestamp_ns;	/* CLOCK_MONOTONIC when this CPU captured, ns */
	__u32 context;		/* NMI_DUMP_CTX_* of the interrupted context */
	__u32 preempt_count;	/* preempt_count() of the interrupted context (NMI entry removed) */
	__u32 pid;		/* current->pid (0 for idle) */
	__u32 tgid;		/* current->tgid */
	__u8 comm[NMI_DUMP_COMM_LEN];	/* current->comm, NUL-padded */
	__u64 task_kaddr;	/* address of current's task_struct */
	__u32 nr_frames;	/* valid entries of frames[] */
	__u32 stack_flags;	/* NMI_DUMP_STACK_* */
	__u64 regs[NMI_DUMP_NR_REGS];	/* interrupted registers, NMI_DUMP_REG_* order */
	__u64 frames[NMI_DUMP_MAX_FRAMES];	/* kernel text addresses, innermost first:
						 * frames[0] is the interrupted rip, then
						 * return addresses from the ORC unwinder */
};

#define NMI_DUMP_BUFFER_HEADER_SIZE	112	/* format 1.1; header_size is larger */
#define NMI_DUMP_BUFFER_HEADER_SIZE_1_0	72	/* the smallest header a reader accepts */
#define NMI_DUMP_SNAPSHOT_SIZE		80
#define NMI_DUMP_CPU_SIZE		752

#endif /* NMI_DUMP_UAPI_RECORD_H */
