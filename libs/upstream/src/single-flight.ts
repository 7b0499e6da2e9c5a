// Concurrent callers for the same key share one run (Go's singleflight), within this process.
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const have = this.running.get(key);
    if (have) return have;
    const p = fn().finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }

  get(key: string): Promise<T> | undefined {
    return this.running.get(key);
  }
}
