import { describe, expect, it } from 'vitest';
import { EscapeReader } from './escape';

describe('console escape (C-a)', () => {
  it('passes ordinary bytes to the guest', () => {
    const r = new EscapeReader();
    expect(r.feed(new Uint8Array([0x6c, 0x73, 0x0d]))).toEqual({
      guest: new Uint8Array([0x6c, 0x73, 0x0d]),
      actions: [],
    });
  });
  it('C-a x quits, C-a h helps, C-a s prints statistics, C-a a sends C-a', () => {
    const r = new EscapeReader();
    expect(r.feed(new Uint8Array([0x01, 0x78])).actions).toEqual(['quit']);
    expect(r.feed(new Uint8Array([0x01, 0x68, 0x01, 0x73])).actions).toEqual(['help', 'stats']);
    expect(r.feed(new Uint8Array([0x01, 0x61])).guest).toEqual(new Uint8Array([0x01]));
  });
  it('an escape split across two reads still works', () => {
    const r = new EscapeReader();
    expect(r.feed(new Uint8Array([0x41, 0x01])).guest).toEqual(new Uint8Array([0x41]));
    expect(r.feed(new Uint8Array([0x78])).actions).toEqual(['quit']);
  });
});
