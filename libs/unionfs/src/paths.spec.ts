import { ancestorsOf, baseName, cleanPath, comparePaths, isWithin, joinPath, parentOf, resolveLinkTarget } from './paths';

describe('paths', () => {
  it('cleans slashes and dots and refuses ..', () => {
    expect(cleanPath('/a//b/./c/')).toBe('a/b/c');
    expect(cleanPath('./')).toBe('');
    expect(cleanPath('a/../b')).toBeUndefined();
  });
  it('splits paths', () => {
    expect(parentOf('a/b/c')).toBe('a/b');
    expect(parentOf('a')).toBe('');
    expect(baseName('a/b')).toBe('b');
    expect(joinPath('', 'a')).toBe('a');
    expect(joinPath('a', 'b')).toBe('a/b');
    expect(ancestorsOf('a/b/c')).toEqual(['a', 'a/b']);
    expect(ancestorsOf('a')).toEqual([]);
  });
  it('knows containment', () => {
    expect(isWithin('a/b', 'a')).toBe(true);
    expect(isWithin('a', 'a')).toBe(true);
    expect(isWithin('ab', 'a')).toBe(false);
    expect(isWithin('x', '')).toBe(true);
  });
  it('orders a directory directly before its contents', () => {
    expect(['a-b', 'a/b', 'a', 'b'].sort(comparePaths)).toEqual(['a', 'a/b', 'a-b', 'b']);
    expect(comparePaths('a', 'a')).toBe(0);
    expect(comparePaths('a/c', 'a/b')).toBeGreaterThan(0);
  });
  it('resolves link targets inside the root, absolute ones from the root', () => {
    expect(resolveLinkTarget('usr/bin/sh', 'busybox')).toBe('usr/bin/busybox');
    expect(resolveLinkTarget('usr/bin/sh', '../lib/x')).toBe('usr/lib/x');
    expect(resolveLinkTarget('usr/bin/sh', '/bin/busybox')).toBe('bin/busybox');
    expect(resolveLinkTarget('a/l', '../../etc')).toBeUndefined();
    expect(resolveLinkTarget('l', './x')).toBe('x');
  });
});
