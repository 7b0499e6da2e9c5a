// One readable into several: each branch gets every chunk; the source waits for the slowest live
// branch (shared backpressure); a branch that is destroyed (a client hung up) is dropped and the
// others go on, so a pull-through blob finishes storing even when its first client leaves.
import { PassThrough, type Readable } from 'node:stream';

export function tee(src: Readable, n = 2): PassThrough[] {
  const outs = Array.from({ length: n }, () => new PassThrough({ highWaterMark: 1 << 20 }));
  src.on('data', (chunk: Buffer) => {
    const blocked = outs.filter((o) => !o.destroyed && !o.write(chunk));
    if (!blocked.length) return;
    src.pause();
    let pending = blocked.length;
    for (const o of blocked) {
      const go = () => {
        o.off('drain', go);
        o.off('close', go);
        if (--pending === 0) src.resume();
      };
      o.on('drain', go);
      o.on('close', go);
    }
  });
  src.on('end', () => outs.forEach((o) => o.destroyed || o.end()));
  src.on('error', (e) => outs.forEach((o) => o.destroy(e)));
  for (const o of outs) {
    o.on('close', () => {
      if (outs.every((x) => x.destroyed) && !src.readableEnded) src.destroy();
    });
  }
  return outs;
}
