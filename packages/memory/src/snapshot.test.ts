import { describe, expect, it } from 'vitest';
import { MemoryError } from './errors';
import { PhysicalMemory } from './physical';
import { restoreMemory, saveMemory } from './snapshot';

describe('memory snapshots', () => {
  it('restore brings back RAM and the A20 gate', () => {
    const m = new PhysicalMemory(64 * 1024);
    m.write32(0x100, 0xdeadbeef);
    m.setA20(false);
    const snap = saveMemory(m);
    const n = new PhysicalMemory(64 * 1024);
    restoreMemory(n, snap);
    expect(n.read32(0x100)).toBe(0xdeadbeef);
    expect(n.a20Enabled).toBe(false);
  });

  it('a restore is a write like any other: watched code pages hear of it before it lands', () => {
    const m = new PhysicalMemory(64 * 1024);
    const snap = saveMemory(m);
    snap.ram[0x2000] = 0x90;
    const seen: string[] = [];
    m.onCodeWrite((page) => seen.push(`${page}:${m.read8(0x2000)}`));
    m.watchPage(2);
    restoreMemory(m, snap);
    expect(seen).toEqual(['2:0']);
    expect(m.read8(0x2000)).toBe(0x90);
  });

  it('rejects a truncated, foreign or mismatched snapshot without touching memory', () => {
    const m = new PhysicalMemory(64 * 1024);
    m.write8(0, 7);
    const snap = saveMemory(new PhysicalMemory(64 * 1024));
    expect(() => restoreMemory(m, { ...snap, ram: snap.ram.subarray(0, 100) })).toThrow(/truncated/);
    expect(() => restoreMemory(m, { ...snap, version: 2 })).toThrow(/version/);
    expect(() => restoreMemory(m, { hello: 1 })).toThrow(MemoryError);
    expect(() => restoreMemory(m, null)).toThrow(MemoryError);
    expect(() => restoreMemory(new PhysicalMemory(128 * 1024), snap)).toThrow(/bytes of RAM/);
    expect(m.read8(0)).toBe(7);
  });
});
