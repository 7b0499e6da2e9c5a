import { RegistryError, applyChanges, splitWords, type ImageConfig } from './index';

const base: ImageConfig = {
  architecture: 'amd64',
  os: 'linux',
  config: {
    Env: ['PATH=/usr/bin', 'HOME=/root'],
    Cmd: ['sh'],
    WorkingDir: '/srv',
    Labels: { keep: 'yes' },
    ExposedPorts: { '22/tcp': {} },
  },
  rootfs: { type: 'layers', diff_ids: [] },
};

function rejects(changes: string[], pattern: RegExp): void {
  try {
    applyChanges(base, changes);
  } catch (e) {
    expect(RegistryError.is(e, 'INVALID_REQUEST')).toBe(true);
    expect((e as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected an error');
}

describe('applyChanges (docker commit -c)', () => {
  it('CMD and ENTRYPOINT in JSON and shell forms, with Docker ordering rules', () => {
    expect(applyChanges(base, ['CMD ["nginx", "-g", "daemon off;"]']).config?.Cmd).toEqual(['nginx', '-g', 'daemon off;']);
    expect(applyChanges(base, ['cmd echo $HOME']).config?.Cmd).toEqual(['/bin/sh', '-c', 'echo $HOME']);
    // An ENTRYPOINT resets an inherited CMD ...
    const e1 = applyChanges(base, ['ENTRYPOINT ["/app"]']).config;
    expect(e1?.Entrypoint).toEqual(['/app']);
    expect(e1?.Cmd).toBeNull();
    // ... but not one set earlier in the same changes.
    const e2 = applyChanges(base, ['CMD ["--help"]', 'ENTRYPOINT /app --flag']).config;
    expect(e2?.Entrypoint).toEqual(['/bin/sh', '-c', '/app --flag']);
    expect(e2?.Cmd).toEqual(['--help']);
    expect(applyChanges(base, ['ENTRYPOINT []']).config?.Entrypoint).toEqual([]);
    expect(applyChanges(base, ['ENTRYPOINT']).config?.Entrypoint).toEqual([]);
    // A malformed JSON form is a shell form, as in Docker.
    expect(applyChanges(base, ['CMD [oops']).config?.Cmd).toEqual(['/bin/sh', '-c', '[oops']);
    const shell = applyChanges({ ...base, config: { Shell: ['/bin/bash', '-lc'] } }, ['CMD run']).config;
    expect(shell?.Cmd).toEqual(['/bin/bash', '-lc', 'run']);
  });

  it('ENV replaces by key, appends new ones, expands earlier values', () => {
    const env = applyChanges(base, [
      'ENV PATH=/opt/bin:$PATH NEW="a b"',
      'ENV LEGACY  value with  spaces',
      'ENV X=${HOME}/x Y=${UNSET:-dflt} Z=${HOME:+set}',
    ]).config?.Env;
    expect(env).toEqual(['PATH=/opt/bin:/usr/bin', 'HOME=/root', 'NEW=a b', 'LEGACY=value with spaces', 'X=/root/x', 'Y=dflt', 'Z=set']);
    expect(base.config?.Env).toEqual(['PATH=/usr/bin', 'HOME=/root']); // input untouched
    rejects(['ENV'], /ENV requires at least one argument/);
    rejects(['ENV ONLYKEY'], /two arguments/);
    rejects(['ENV A=1 =2'], /can not be blank/);
    rejects(['ENV A=1 B'], /missing "="/);
  });

  it('LABEL merges; EXPOSE, VOLUME add; USER, WORKDIR set', () => {
    const c = applyChanges(base, [
      'LABEL a=1 "b c"="d e" single=\'$HOME\'',
      'LABEL legacy some value',
      'EXPOSE 80 53/udp 8000-8002/TCP',
      'VOLUME ["/data", "/logs"]',
      'VOLUME /cache /tmp/x',
      'USER app:app',
      'WORKDIR rel/dir',
      'WORKDIR ../up',
      '# a comment',
      '',
      'ONBUILD RUN echo hi',
    ]).config;
    expect(c?.Labels).toEqual({ keep: 'yes', a: '1', 'b c': 'd e', single: '$HOME', legacy: 'some value' });
    expect(Object.keys(c?.ExposedPorts ?? {})).toEqual(['22/tcp', '80/tcp', '53/udp', '8000/tcp', '8001/tcp', '8002/tcp']);
    expect(c?.Volumes).toEqual({ '/data': {}, '/logs': {}, '/cache': {}, '/tmp/x': {} });
    expect(c?.User).toBe('app:app');
    expect(c?.WorkingDir).toBe('/srv/rel/up');
    expect(c?.OnBuild).toEqual(['RUN echo hi']);
    expect(applyChanges(base, ['WORKDIR /abs//x/']).config?.WorkingDir).toBe('/abs/x/');
    expect(applyChanges({ ...base, config: undefined }, ['WORKDIR a']).config?.WorkingDir).toBe('/a');
    expect(applyChanges(base, ['ENV D=/opt', 'WORKDIR $D/app']).config?.WorkingDir).toBe('/opt/app');
  });

  it('refuses what docker commit refuses, naming the change', () => {
    rejects(['RUN echo'], /RUN is not a valid change instruction: docker commit -c supports CMD, ENTRYPOINT/);
    rejects(['FROM busybox'], /FROM is not a valid/);
    rejects(['EXPOSE 80:80'], /port mappings/);
    rejects(['EXPOSE http'], /invalid port/);
    rejects(['EXPOSE 90-80'], /invalid port range/);
    rejects(['EXPOSE'], /EXPOSE requires/);
    rejects(['VOLUME'], /VOLUME requires/);
    rejects(['VOLUME [" "]'], /empty string/);
    rejects(['USER'], /USER requires/);
    rejects(['WORKDIR'], /WORKDIR requires/);
    rejects(['ONBUILD'], /ONBUILD requires/);
    rejects(['ONBUILD ONBUILD RUN x'], /chaining ONBUILD/);
    rejects(['ONBUILD from x'], /FROM is not allowed/);
    rejects(['ONBUILD MAINTAINER x'], /MAINTAINER is not allowed/);
    rejects(['LABEL'], /LABEL requires/);
  });
});

describe('splitWords', () => {
  it('handles quotes, escapes and expansion like the Dockerfile lexer', () => {
    const env = new Map([['A', 'x y']]);
    expect(splitWords(`a "b c" 'd e' f\\ g "q\\"q" $A "$A" '$A' \${A} $ $1`, env)).toEqual([
      'a',
      'b c',
      'd e',
      'f g',
      'q"q',
      'x y',
      'x y',
      '$A',
      'x y',
      '$',
      '$1',
    ]);
    expect(splitWords('$A "$A"')).toEqual(['$A', '$A']);
    expect(() => splitWords('"open')).toThrow(/unmatched double quote/);
    expect(() => splitWords("'open")).toThrow(/unmatched single quote/);
  });
});
