/** mulberry32: a tiny deterministic PRNG, so generated data (seed, workloads) can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A deterministic UUID (v4 layout) from the generator, so the same seed yields the same ids. */
export function uuidFrom(rand: () => number): string {
  const hex = (n: number) =>
    Array.from({ length: n }, () =>
      Math.floor(rand() * 16)
        .toString(16)
        .toLowerCase(),
    ).join("");
  const variant = "89ab"[Math.floor(rand() * 4)] as string;
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${variant}${hex(3)}-${hex(12)}`;
}
