// Keys that missed a moment ago. Read repair looks in storage when Redis does not know a tag, a
// manifest or a blob link; this keeps a run of 404s for names that exist nowhere (a typo in a loop, a
// scanner) from becoming a run of storage reads. Bounded: the oldest entry goes first.

export class MissCache {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly ttlMs = 2000,
    private readonly max = 10_000,
  ) {}

  /** Whether `key` missed less than `ttlMs` ago. */
  has(key: string, now = Date.now()): boolean {
    const t = this.until.get(key);
    if (t === undefined) return false;
    if (t > now) return true;
    this.until.delete(key);
    return false;
  }

  add(key: string, now = Date.now()): void {
    // Re-inserted, so the Map's order stays oldest first.
    this.until.delete(key);
    this.until.set(key, now + this.ttlMs);
    if (this.until.size > this.max) this.until.delete(this.until.keys().next().value!);
  }

  get size(): number {
    return this.until.size;
  }
}
