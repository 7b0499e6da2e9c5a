// How the CLI reads an argument as an image ID (Docker's rule): written as an ID (sha256: and 4-64
// hex, or 64 hex) it is only an ID; 4-63 bare hex is an ID first and else a name; anything else,
// including every NAME:TAG, NAME@DIGEST and path-like name, is a name.
import fc from 'fast-check';
import { imageIdForm } from '../src/context';

const hex = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${min},${max}}$`));

describe('imageIdForm', () => {
  it('sha256: and 4-64 hex, or 64 bare hex, is only an ID', () => {
    fc.assert(fc.property(hex(4, 64), (h) => expect(imageIdForm(`sha256:${h}`)).toBe('id')));
    fc.assert(fc.property(hex(64, 64), (h) => expect(imageIdForm(h)).toBe('id')));
  });

  it('4-63 bare hex is an ID first, else a name', () => {
    fc.assert(fc.property(hex(4, 63), (h) => expect(imageIdForm(h)).toBe('id-or-name')));
  });

  it('anything with a tag, digest, slash, upper case or too few or many digits is a name', () => {
    fc.assert(
      fc.property(hex(1, 64), fc.constantFrom(':1', '/app', '@sha256:' + 'a'.repeat(64), 'g', 'A', ' '), (h, tail) =>
        expect(imageIdForm(h + tail)).toBeUndefined(),
      ),
    );
    for (const s of ['abc', 'sha256:abc', 'a'.repeat(65), 'sha512:' + 'a'.repeat(64), 'busybox', 'cafe:latest', ''])
      expect(imageIdForm(s)).toBeUndefined();
  });
});
