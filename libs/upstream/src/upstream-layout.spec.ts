import fc from 'fast-check';
import { UpstreamLayout, parseOriginKey } from './upstream-layout';

const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/).filter((s) => s.length > 0 && s.length < 20);
const name = fc.array(component, { minLength: 1, maxLength: 4 }).map((a) => a.join('/'));
const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,20}$/);

describe('upstream origins layout', () => {
  it('an origin key parses back to its name and tag', () => {
    fc.assert(fc.property(name, tag, (n, t) => expect(parseOriginKey(UpstreamLayout.origin(n, t))).toEqual({ name: n, tag: t })));
  });

  it('ignores anything else under the root', () => {
    expect(parseOriginKey('upstream-origins/library/x/_tags/v1/extra')).toBeUndefined();
    expect(parseOriginKey('upstream-origins/library/x/v1')).toBeUndefined();
    expect(parseOriginKey(UpstreamLayout.upstream('hub'))).toBeUndefined();
  });
});
