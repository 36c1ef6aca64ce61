// SPDX-License-Identifier: GPL-2.0
// WaitGraph: who waits on whom (CPUs, tasks, locks, pending xcalls) and the verdict drawn from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace kstuck {

enum class NodeKind { Cpu, Task, Mutex, Rwsem, Spinlock, Xcall };
enum class EdgeKind {
  WaitsFor,  // a CPU or task cannot go on until the target does something
  OwnedBy,   // a lock is held by a task or a CPU
  QueuedOn,  // an xcall waits in (or was taken from) the target CPU's queue
  RunsOn,    // a running task progresses only if its CPU does
};

const char* node_kind_name(NodeKind k);
const char* edge_kind_name(EdgeKind k);

// How a wait is known (DESIGN.md §6 "Evidence and confidence"). Confirmed: kernel
// state says so (an owner field, a waiter linked on the lock's wait_list, a csd queued
// or locked, rq->curr, on_rq). Inferred: kstuck deduced it (code, registers, stack
// words, preempt depth, a reader-owned rwsem's owner hint). A verdict is only as strong
// as its weakest edge.
enum class Confidence { Confirmed, Inferred };
const char* confidence_name(Confidence c);  // "confirmed", "inferred"

// One vertex; which optional fields are set depends on the kind.
struct WaitNode {
  std::string id;  // stable within a report: "cpu:3", "task:125", "mutex:0xffff...", "xcall:0x..."
  NodeKind kind = NodeKind::Task;
  std::string label;                  // one line for humans
  std::optional<int> cpu;             // Cpu: its number; Task: the CPU it runs on, if current
  std::optional<int> pid;             // Task, or the current task of a Cpu
  std::string comm;
  std::optional<uint64_t> address;    // locks, xcalls (the csd), tasks (task_struct)
  std::string symbol;                 // a lock's or csd's static name, if any
  std::string func;                   // Xcall: the function it asks for; Cpu/Task: where it waits
  std::optional<int> target_cpu;      // Xcall
  std::optional<int> waiter_cpu;      // Xcall
  std::optional<int> waiter_pid;      // Xcall
  std::string xcall_type;             // Xcall: "SYNC", "ASYNC", "IRQ_WORK", "TTWU"
  bool queued = false;                // Xcall: found on the target's call_single_queue
  bool locked = false;                // Xcall: CSD_FLAG_LOCK; locks: the lock word says held
  std::optional<bool> irqs_off;       // Cpu: EFLAGS.IF clear in its saved registers
  // Cpu: a witness of a panic, not a suspect (cpu_evidence.h): the CPU that panicked or
  // crashed into kdump, or one it stopped. Its IRQs are off because of the panic.
  bool panicking = false;
  bool stopped_by_panic = false;
  std::string witness;                // why it is a witness
  // Cpu: no timer interrupt for at least this long (a lower bound from the dump's clocks),
  // how that was measured, and whether it reaches HangOptions::stall_evidence_ns.
  std::optional<uint64_t> stalled_ns;
  std::string stall_evidence;
  bool stall_evidenced = false;
  // Spinlock: a CPU spins on it with IRQs off and no CPU or task is known to hold it.
  bool holder_unknown = false;
  bool spinning = false;              // Cpu: busy-waiting (slowpath, csd wait, IRQs-off loop)
  bool idle = false;                  // Cpu: in the idle loop
  std::string doing;                  // Cpu/Task: "spinlock slowpath", "xcall wait", "mutex wait"...
  std::string state;                  // Task: "D", "S", "R"...
  std::optional<int> runnable_on;     // Task: queued on this CPU's runqueue, but not running
  std::optional<uint64_t> since_ran_ns;  // Task, not current: since it last ran
  std::optional<uint64_t> queued_ns;     // Task, queued: since it was put on the runqueue
  // Cpu: the runnable task it has kept off the CPU the longest, when that is past the
  // starvation threshold while the CPU runs something else (HangOptions::starved_after_ns).
  std::optional<int> starved_pid;
  std::string starved_comm;
  std::optional<uint64_t> starved_ns;
  std::vector<std::string> stack;     // function names, innermost first
  std::vector<int> waiter_pids;       // Mutex/Rwsem: its wait_list in order (0: not in the task list)
  bool waiters_complete = true;       // Mutex/Rwsem: the wait_list walk reached its head
  // Mutex/Rwsem: what was weighed about its owners beyond the edges (a reader-owned
  // rwsem's owner hint dropped because that task's code released it, readers counted
  // against those found from code).
  std::vector<std::string> notes;
};

struct WaitEdge {
  size_t from = 0, to = 0;
  EdgeKind kind = EdgeKind::WaitsFor;
  Confidence confidence = Confidence::Confirmed;
  std::string evidence;  // why the edge is believed, one phrase (names the kernel state or the deduction)
  bool inferred() const { return confidence == Confidence::Inferred; }
};

// DEADLOCK: a cycle of waits. STUCK: the longest chain ends at a CPU that makes no
// progress. NONE: nothing waits, or every chain ends where progress is possible.
// UNKNOWN: the data a verdict needs is missing (no CPU registers, no task list).
enum class Verdict { None, Stuck, Deadlock, Unknown };
const char* verdict_name(Verdict v);

// What the graph says: a cycle (DEADLOCK), else the longest chain and where it ends.
struct GraphVerdict {
  Verdict verdict = Verdict::None;
  // Confirmed when every edge the verdict rests on (the cycle, or the longest chain) is
  // confirmed; else Inferred, and inferred_edges names those edges (indices into edges()).
  Confidence confidence = Confidence::Confirmed;
  std::vector<size_t> inferred_edges;
  std::vector<size_t> cycle;       // DEADLOCK: nodes in wait order, starting at a canonical node
  std::vector<size_t> chain;       // the longest wait chain (for DEADLOCK: the cycle again)
  // STUCK/NONE: every chain that ends at the root cause, one per context that starts one
  // (several CPUs often wait on the same IRQs-off CPU); the longest first, at most 32.
  std::vector<std::vector<size_t>> chains;
  std::optional<size_t> root_cause;  // the node at the end of the longest chain
  std::string reason;              // why this verdict, one sentence
  bool limited = false;            // a search bound was hit: the result may be incomplete
};

// Nodes are unique by id; edges unique by (from, to, kind). Sizes are bounded so that a
// corrupt dump cannot blow up the analysis.
class WaitGraph {
 public:
  static constexpr size_t kMaxNodes = 100000;
  static constexpr size_t kMaxEdges = 400000;

  // Returns the index of the node with this id, adding it if new (nullopt when full).
  std::optional<size_t> add_node(WaitNode node);
  std::optional<size_t> find(const std::string& id) const;
  // Adds an edge unless it exists; false when full or an index is out of range. The
  // same edge found again with stronger evidence (Confirmed over Inferred) takes it.
  bool add_edge(size_t from, size_t to, EdgeKind kind, std::string evidence = {},
                Confidence confidence = Confidence::Confirmed);

  const std::vector<WaitNode>& nodes() const { return nodes_; }
  std::vector<WaitNode>& nodes() { return nodes_; }
  const std::vector<WaitEdge>& edges() const { return edges_; }
  bool full() const { return full_; }

  // Iterative, bounded cycle search and chain analysis (no recursion).
  GraphVerdict analyse() const;

  // The edge from -> to with the strongest evidence (confirmed over inferred), if any.
  std::optional<size_t> strongest_edge(size_t from, size_t to) const;

 private:
  std::vector<WaitNode> nodes_;
  std::vector<WaitEdge> edges_;
  std::map<std::string, size_t> index_;
  std::map<std::tuple<size_t, size_t, int>, size_t> edge_index_;
  bool full_ = false;
};

// Whether a node, at the end of a chain, explains a machine that makes no progress: a
// CPU busy with interrupts off, or one that has starved a runnable task past the
// threshold; a spinlock spun on with IRQs off whose holder is unknown. A CPU whose
// interrupts are off because of a panic is a witness, not a sink: the panicking CPU only
// when the dump shows it stalled before the panic (stall_evidenced), a CPU the panic
// stopped never by its IRQ flag.
bool is_stuck_sink(const WaitNode& n);

// Whether the sink's stall is shown by more than its one register sample: a starved task
// (its queued time) or a stall measured from the dump's clocks.
bool stall_is_evidenced(const WaitNode& n);

// "DEADLOCK", "DEADLOCK (inferred)", "STUCK (inferred)", "NONE", "UNKNOWN".
std::string verdict_text(const GraphVerdict& v);

// "12.3 s": how a wait's length reads in labels and reasons.
std::string seconds_text(uint64_t ns);

}  // namespace kstuck
