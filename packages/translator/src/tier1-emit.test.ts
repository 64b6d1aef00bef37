import { assemble } from '@ringzero/assembler';
import { describe, expect, it } from 'vitest';
import { discoverRegion, emitRegion, regionFactorySource } from './tier1';

/**
 * Expect tests: the JavaScript tier 1 emits for small inputs, committed under `__expect__/` and
 * reviewed as diffs. After an intended change to the emitter, update them with
 * `pnpm --filter @ringzero/translator exec vitest run src/tier1-emit.test.ts -u`.
 */

const FLAT_RING0 = 2;
const FLAT_RING3 = 3;
const NOT_FLAT = 0;

/** The region the compiler finds from the first instruction of `source` (assembled at 0x1000). */
function regionOf(source: string) {
  // HLT (privileged) ends the input: the region leaves there for tier 0.
  const bytes = assemble(`bits 32\norg 0x1000\n${source}\nhlt`).bytes;
  const page = new Uint8Array(4096);
  page.set(bytes);
  const region = discoverRegion(page, 0, 0x1000);
  if (region === undefined) throw new Error('no region');
  return region;
}

const CASES: [name: string, mode: number, source: string][] = [
  [
    'register-alu-and-fused-branch',
    FLAT_RING0,
    'mov eax, ebx\nadd eax, 5\ncmp eax, ecx\njb 0x1000\ninc edx\njnz 0x1000',
  ],
  [
    'memory-forms-flat',
    FLAT_RING0,
    'mov eax, [esi + ecx * 4 + 8]\nmov [edi], eax\nadd dword [ebp - 4], 3\ncmp byte [esi], 0',
  ],
  [
    'memory-forms-user-fs',
    FLAT_RING3,
    'mov eax, [fs:0x14]\nmovzx ecx, byte [eax]\nmovsx edx, word [eax + 2]',
  ],
  ['stack-call-return', FLAT_RING0, 'push ebp\nmov ebp, esp\npush 7\ncall 0x2000\npop ebp\nret'],
  ['non-flat-segments', NOT_FLAT, 'mov eax, [ebx]\npush eax\nshr eax, 3\nrol ecx, cl'],
  ['cmov-neg-leave', FLAT_RING0, 'cmp eax, ebx\ncmovl eax, ebx\njge 0x1000\nneg ecx\nmov al, bh\nleave\nret'],
  [
    'handler-fallback',
    FLAT_RING0,
    'xchg eax, ebx\nimul ecx, edx, 10\nbswap eax\ncmpxchg [esi], ecx\nsetz al',
  ],
  [
    'shifts-rdtsc-byte-alu',
    FLAT_RING0,
    'shl eax, 4\njc 0x1000\nsar edx, cl\nrdtsc\nxor bl, [esi + 1]\nshr ecx, 1\njz 0x1000\nshr ax, 5\nsar bh, 3\nshl dl, 1',
  ],
  [
    'dead-flags',
    FLAT_RING0,
    'rol ebx, 5\nadd ebx, eax\nror eax, 11\nadc esi, 0\nimul edx, ebx, 7\nxor edx, eax\nimul ebx, edx\nseto al\nrol edi, cl\ncmp edi, esi\nadd bl, dh\nsub ebx, ecx\ncmp al, [esi]\nand esi, 3',
  ],
];

describe('tier 1 emitted JavaScript (expect files)', () => {
  for (const [name, mode, source] of CASES) {
    it(name, async () => {
      const js = regionFactorySource(emitRegion(regionOf(source), mode));
      await expect(`// ${source.replaceAll('\n', '; ')}\n${js}\n`).toMatchFileSnapshot(
        `./__expect__/${name}.js`,
      );
    });
  }
});
