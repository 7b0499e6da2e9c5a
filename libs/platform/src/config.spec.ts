import { loadConfig } from './config';

describe('configuration', () => {
  it('defaults to all-in-one on 127.0.0.1:5000 with filesystem storage', () => {
    const c = loadConfig({});
    expect(c.STEVEDORE_TARGET).toBe('all');
    expect(c.publicUrl).toBe('http://127.0.0.1:5000');
    expect(c.STEVEDORE_STORAGE).toBe('filesystem');
  });

  it('keeps 256 MiB of layer indexes in memory unless told otherwise, and no negative budget', () => {
    expect(loadConfig({}).STEVEDORE_LAYER_INDEX_CACHE_BYTES).toBe(256 * 2 ** 20);
    expect(loadConfig({ STEVEDORE_LAYER_INDEX_CACHE_BYTES: '0' }).STEVEDORE_LAYER_INDEX_CACHE_BYTES).toBe(0);
    expect(() => loadConfig({ STEVEDORE_LAYER_INDEX_CACHE_BYTES: '-1' })).toThrow(/STEVEDORE_LAYER_INDEX_CACHE_BYTES/);
  });

  it('names every bad variable', () => {
    expect(() => loadConfig({ PORT: 'x', STEVEDORE_TARGET: 'nope' })).toThrow(/PORT[\s\S]*STEVEDORE_TARGET|STEVEDORE_TARGET[\s\S]*PORT/);
    expect(() => loadConfig({ STEVEDORE_STORAGE: 's3' })).toThrow(/S3_ENDPOINT/);
  });
});
