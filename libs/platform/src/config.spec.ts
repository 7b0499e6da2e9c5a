import { loadConfig } from './config';

describe('configuration', () => {
  it('defaults to all-in-one on 127.0.0.1:5000 with filesystem storage', () => {
    const c = loadConfig({});
    expect(c.STEVEDORE_TARGET).toBe('all');
    expect(c.publicUrl).toBe('http://127.0.0.1:5000');
    expect(c.STEVEDORE_STORAGE).toBe('filesystem');
  });

  it('names every bad variable', () => {
    expect(() => loadConfig({ PORT: 'x', STEVEDORE_TARGET: 'nope' })).toThrow(/PORT[\s\S]*STEVEDORE_TARGET|STEVEDORE_TARGET[\s\S]*PORT/);
    expect(() => loadConfig({ STEVEDORE_STORAGE: 's3' })).toThrow(/S3_ENDPOINT/);
  });
});
