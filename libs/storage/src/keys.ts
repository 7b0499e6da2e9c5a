// Storage keys are '/'-separated relative paths; anything that could escape a root or alias
// another key is refused before it reaches a backend.
import { InvalidPathError } from './storage-driver';

export function checkKey(key: string, allowPrefix = false): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024) throw new InvalidPathError(String(key));
  if (key.startsWith('/') || key.includes('\\') || key.includes('\0')) throw new InvalidPathError(key);
  const parts = key.split('/');
  const last = parts.length - 1;
  parts.forEach((p, i) => {
    if (p === '..' || p === '.') throw new InvalidPathError(key);
    if (p === '' && !(allowPrefix && i === last)) throw new InvalidPathError(key);
  });
  return key;
}
