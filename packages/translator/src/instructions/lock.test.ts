import { describe, expect, it } from 'vitest';
import { exportSnapshot } from '../cpu-state';
import { Vector } from '../fault';
import { StopReason } from '../tier0';
import { a32, run } from './snippet';

// The LOCK prefix (SDM vol. 2 "LOCK"): allowed only on ADD, ADC, AND, BTC, BTR, BTS, CMPXCHG,
// CMPXCHG8B, DEC, INC, NEG, NOT, OR, SBB, SUB, XOR, XADD and XCHG, and only when the destination
// is memory; otherwise #UD, raised before anything changes, with EIP at the prefix.

describe('LOCK on the lockable read-modify-write forms', () => {
  const lockable = [
    { op: 'add dword [0x3000], 5', value: 15 },
    { op: 'adc dword [0x3000], ebx', value: 10 + 0x20 + 1 },
    { op: 'and dword [0x3000], 6', value: 2 },
    { op: 'or dword [0x3000], ebx', value: 0x2a },
    { op: 'xor dword [0x3000], 0xff', value: 0xf5 },
    { op: 'sub dword [0x3000], 3', value: 7 },
    { op: 'sbb dword [0x3000], 3', value: 6 },
    { op: 'inc dword [0x3000]', value: 11 },
    { op: 'dec dword [0x3000]', value: 9 },
    { op: 'neg dword [0x3000]', value: 0xfffffff6 },
    { op: 'not dword [0x3000]', value: 0xfffffff5 },
    { op: 'bts dword [0x3000], 0', value: 11 },
    { op: 'btr dword [0x3000], 1', value: 8 },
    { op: 'btc dword [0x3000], ebx', value: 10 ^ 1 },
    { op: 'xchg [0x3000], ebx', value: 0x20 },
    { op: 'xadd [0x3000], ebx', value: 0x2a },
    { op: 'cmpxchg [0x3000], ebx', value: 0x20 },
  ];
  for (const { op, value } of lockable) {
    it(`lock ${op} runs as without the prefix`, () => {
      // [0x3000] = 10, EBX = 0x20, EAX = 10, CF = 1. BTC's register bit offset 0x20 addresses
      // bit 0 of the next dword, [0x3004].
      const p = a32`
        mov dword [0x3000], 10
        mov ebx, 0x20
        mov eax, 10
        stc
        lock ${op}
        hlt`;
      const { memory, reason } = run(p);
      expect(reason).toBe(StopReason.halt);
      if (op.startsWith('btc')) {
        expect(memory.read32(0x3000)).toBe(10);
        expect(memory.read32(0x3004)).toBe(1);
      } else expect(memory.read32(0x3000) >>> 0).toBe(value >>> 0);
    });
  }
});

describe('LOCK misuse raises #UD', () => {
  const misuse = [
    { what: 'MOV to memory (not lockable)', bytes: 'db 0xf0\nmov [0x3000], eax' },
    { what: 'CMP with a memory operand (reads only)', bytes: 'db 0xf0\ncmp [0x3000], eax' },
    { what: 'TEST with a memory operand', bytes: 'db 0xf0\ntest [0x3000], eax' },
    { what: 'BT with a memory operand (reads only)', bytes: 'db 0xf0\nbt dword [0x3000], 1' },
    { what: 'NOP', bytes: 'db 0xf0\nnop' },
    { what: 'LEA', bytes: 'db 0xf0\nlea eax, [ebx + 4]' },
    { what: 'PUSH of memory', bytes: 'db 0xf0\npush dword [0x3000]' },
    { what: 'MOVSB', bytes: 'db 0xf0\nmovsb' },
    { what: 'ADD with a register destination (01 /r, mod = 11)', bytes: 'db 0xf0\nadd eax, ebx' },
    { what: 'ADD with a register destination and a memory source', bytes: 'db 0xf0\nadd eax, [0x3000]' },
    { what: 'INC of a register (40+r)', bytes: 'db 0xf0\ninc eax' },
    { what: 'NOT of a register', bytes: 'db 0xf0\nnot eax' },
    { what: 'BTS of a register', bytes: 'db 0xf0\nbts eax, 3' },
    { what: 'XCHG of two registers', bytes: 'db 0xf0\nxchg eax, ebx' },
    { what: 'XADD of two registers', bytes: 'db 0xf0\nxadd eax, ebx' },
    { what: 'CMPXCHG of two registers', bytes: 'db 0xf0\ncmpxchg eax, ebx' },
  ];
  for (const { what, bytes } of misuse) {
    it(`LOCK ${what}: #UD at the prefix, nothing changed`, () => {
      const p = a32`
        mov eax, 0x1234
        mov ebx, 0x5678
        mov esi, 0x3100
        mov edi, 0x3200
        stc
      locked:
        ${bytes}
        hlt`;
      const before = exportSnapshot(run(p, { limit: 5 }).s);
      const { cpu, s, memory } = run(p);
      expect(cpu.lastVector).toBe(Vector.ud);
      expect(s.eip).toBe(p.at('locked'));
      const after = exportSnapshot(s);
      expect({ ...after, tsc: before.tsc }).toEqual(before);
      expect(memory.read32(0x3000)).toBe(0);
      expect(memory.read8(0x3200)).toBe(0);
    });
  }
});
