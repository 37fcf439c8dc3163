/**
 * A V8 CPU profile of a worker running under workerd, through its inspector (the Chrome
 * DevTools Protocol over a WebSocket): start, run some requests, stop, and sum the samples by
 * function (self time) and by the stage of a feed miss each function belongs to.
 *
 * Timers inside a worker cannot measure CPU: workerd advances `performance.now()` only across
 * I/O, so a sampling profile is the only view of where a miss spends its CPU.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
/** The Profiler.stop result (the subset read here). */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionCost {
  name: string;
  /** Self time (µs). */
  selfUs: number;
  /** Self + callees (µs), counting a function once per sample however often it recurs. */
  totalUs: number;
}

export interface ProfileSummary {
  /** Sampled time (µs), idle excluded. */
  busyUs: number;
  idleUs: number;
  byFunction: FunctionCost[];
  /** Busy time by stage (`stages` matched on the call stack, innermost match wins), µs. */
  byStage: Record<string, number>;
}

/** The first page target of an inspector at `port` (workerd lists one per worker). */
async function targetUrl(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/json`);
  const list = (await res.json()) as { webSocketDebuggerUrl?: string; id?: string }[];
  const t = list.find((x) => x.webSocketDebuggerUrl) ?? list[0];
  if (!t) throw new Error(`no inspector target on port ${port}`);
  return t.webSocketDebuggerUrl ?? `ws://127.0.0.1:${port}/${t.id}`;
}

/** A CDP session: send a method, await its result. */
export interface Inspector {
  send<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  close(): void;
}

export async function connectInspector(port: number): Promise<Inspector> {
  const ws = new WebSocket(await targetUrl(port));
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error(`inspector on port ${port} refused the connection`)), {
      once: true,
    });
  });
  let next = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  ws.addEventListener("message", (ev) => {
    const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string } };
    const p = msg.id !== undefined ? pending.get(msg.id) : undefined;
    if (!p) return;
    pending.delete(msg.id as number);
    if (msg.error) p.reject(new Error(msg.error.message));
    else p.resolve(msg.result);
  });
  return {
    send: <T>(method: string, params: Record<string, unknown> = {}) =>
      new Promise<T>((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Profiles `work` (sampling every `intervalUs`) and returns the raw profile. */
export async function profile(port: number, work: () => Promise<void>, intervalUs = 100): Promise<CpuProfile> {
  const insp = await connectInspector(port);
  try {
    await insp.send("Profiler.enable");
    await insp.send("Profiler.setSamplingInterval", { interval: intervalUs });
    await insp.send("Profiler.start");
    await work();
    const { profile: p } = await insp.send<{ profile: CpuProfile }>("Profiler.stop");
    await insp.send("Profiler.disable");
    return p;
  } finally {
    insp.close();
  }
}

const IDLE = new Set(["(idle)", "(program)", "(garbage collector)"]);

/**
 * Sums a profile: self and total time per function, and busy time per stage. `stages` maps a
 * stage name to the function names that belong to it; a sample counts for the innermost
 * frame of its stack that names a stage ("other" when none does). GC counts as busy under
 * its own name.
 */
export function summarize(p: CpuProfile, stages: Record<string, readonly string[]> = {}): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = new Map<string, string>();
  for (const [stage, fns] of Object.entries(stages)) for (const f of fns) stageOf.set(f, stage);
  // An anonymous function is told apart by where it is (the bundle's file and line).
  const nameOf = (n: ProfileNode) =>
    n.callFrame.functionName ||
    (n.callFrame.url ? `(anonymous) ${n.callFrame.url.split("/").pop()}:${n.callFrame.lineNumber + 1}` : "(anonymous)");

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const byStage: Record<string, number> = {};
  let busy = 0;
  let idle = 0;
  // workerd samples only while the isolate runs: a sample before a wait on I/O is followed by
  // a long gap. Each sample stands for the time to the next one, at most twice the median gap.
  const gaps = p.timeDeltas.slice(1).sort((a, b) => a - b);
  const cap = 2 * (gaps[Math.floor(gaps.length / 2)] ?? 0);
  const lastAt = p.startTime + p.timeDeltas.reduce((a, d) => a + d, 0);
  p.samples.forEach((id, i) => {
    const dt = Math.min(p.timeDeltas[i + 1] ?? p.endTime - lastAt, cap);
    const leaf = byId.get(id);
    if (!leaf) return;
    const leafName = nameOf(leaf);
    if (leafName === "(idle)" || leafName === "(program)") {
      idle += dt;
      return;
    }
    busy += dt;
    self.set(leafName, (self.get(leafName) ?? 0) + dt);
    const seen = new Set<string>();
    let stage: string | undefined = leafName === "(garbage collector)" ? "gc" : undefined;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (!node) break;
      const name = nameOf(node);
      if (!seen.has(name)) {
        seen.add(name);
        total.set(name, (total.get(name) ?? 0) + dt);
      }
      if (!stage) stage = stageOf.get(name);
    }
    const s = stage ?? "other";
    byStage[s] = (byStage[s] ?? 0) + dt;
  });
  const byFunction = [...self]
    .filter(([name]) => !IDLE.has(name) || name === "(garbage collector)")
    .map(([name, selfUs]) => ({ name, selfUs, totalUs: total.get(name) ?? selfUs }))
    .sort((a, b) => b.selfUs - a.selfUs);
  return { busyUs: busy, idleUs: idle, byFunction, byStage };
}
