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

  it('takes the consistency interval in seconds or with a unit, hourly by default, 0 or off to disable', () => {
    const interval = (v?: string) => loadConfig({ STEVEDORE_CONSISTENCY_INTERVAL: v }).STEVEDORE_CONSISTENCY_INTERVAL;
    expect(interval()).toBe(3600);
    expect(interval('90')).toBe(90);
    expect(interval('15m')).toBe(900);
    expect(interval('2h')).toBe(7200);
    expect(interval('1d')).toBe(86400);
    expect(interval('1500ms')).toBe(1.5);
    expect(interval('0')).toBe(0);
    expect(interval('off')).toBe(0);
    for (const bad of ['soon', '-1', '1w', '500ms', '1 h']) expect(() => interval(bad)).toThrow(/STEVEDORE_CONSISTENCY_INTERVAL/);
  });

  it('names every bad variable', () => {
    expect(() => loadConfig({ PORT: 'x', STEVEDORE_TARGET: 'nope' })).toThrow(/PORT[\s\S]*STEVEDORE_TARGET|STEVEDORE_TARGET[\s\S]*PORT/);
    expect(() => loadConfig({ STEVEDORE_STORAGE: 's3' })).toThrow(/S3_ENDPOINT/);
  });
});
