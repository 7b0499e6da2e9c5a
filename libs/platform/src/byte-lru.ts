// A bounded in-process cache of immutable, content-addressed bytes (small blobs, manifests): the
// key is a digest, so an entry can never go stale; only its size bounds it. Least recently used
// entries leave first.
export class ByteLru {
  private readonly map = new Map<string, Buffer>();
  private bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxEntryBytes: number,
  ) {}

  get(key: string): Buffer | undefined {
    const v = this.map.get(key);
    if (v) {
      // Re-insert to mark as most recently used (Map keeps insertion order).
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: string, value: Buffer): void {
    if (value.length > this.maxEntryBytes || this.map.has(key)) return;
    this.map.set(key, value);
    this.bytes += value.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.bytes -= v.length;
    }
  }

  delete(key: string): void {
    const v = this.map.get(key);
    if (v) {
      this.map.delete(key);
      this.bytes -= v.length;
    }
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.map.size, bytes: this.bytes };
  }
}
