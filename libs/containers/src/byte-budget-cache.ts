// A least-recently-used cache bounded by the bytes its values weigh, not by their count: one layer
// index of 100,000 entries weighs as much as thousands of small ones. A value heavier than the
// whole budget is not kept (the caller still has it for its request). (libs/platform's ByteLru
// weighs Buffers by their length; the values here are objects whose weight the caller estimates.)

export class ByteBudgetCache<K, V> {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  private readonly items = new Map<K, { value: V; weight: number }>();
  private used = 0;

  constructor(readonly budget: number) {
    if (!(budget >= 0)) throw new RangeError(`a cache budget must be 0 or more bytes, not ${budget}`);
  }

  /** Bytes the kept values weigh. */
  get weight(): number {
    return this.used;
  }

  get size(): number {
    return this.items.size;
  }

  get(key: K): V | undefined {
    const item = this.items.get(key);
    if (!item) return undefined;
    this.items.delete(key);
    this.items.set(key, item);
    return item.value;
  }

  has(key: K): boolean {
    return this.items.has(key);
  }

  /** Keep `value`, evicting the least recently used until it fits; false when it alone exceeds the budget. */
  set(key: K, value: V, weight: number): boolean {
    if (!(weight >= 0)) throw new RangeError(`a weight must be 0 or more bytes, not ${weight}`);
    this.delete(key);
    if (weight > this.budget) return false;
    for (const [k, item] of this.items) {
      if (this.used + weight <= this.budget) break;
      this.items.delete(k);
      this.used -= item.weight;
    }
    this.items.set(key, { value, weight });
    this.used += weight;
    return true;
  }

  delete(key: K): boolean {
    const item = this.items.get(key);
    if (!item) return false;
    this.items.delete(key);
    this.used -= item.weight;
    return true;
  }

  clear(): void {
    this.items.clear();
    this.used = 0;
  }

  keys(): IterableIterator<K> {
    return this.items.keys();
  }
}
