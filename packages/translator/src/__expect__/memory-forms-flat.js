// mov eax, [esi + ecx * 4 + 8]; mov [edi], eax; add dword [ebp - 4], 3; cmp byte [esi], 0
const e0 = s.eip;
const w0 = c.codeWrites;
let fa = 0;
let fb = 0;
let fv = 0;
s.interruptShadow = false;
// mov (539)
c.startEip = (e0 + 0) | 0;
r[0] = c.mmu.read32((r[6] + r[1] * 4 + 8) | 0, false);
// mov (535)
c.startEip = (e0 + 4) | 0;
c.mmu.write32((r[7]) | 0, r[0], false);
if (c.codeWrites !== w0) { s.eip = (e0 + 6) | 0; c.instructions += 2; return; }
// add (19)
c.startEip = (e0 + 6) | 0;
{ const L = (r[5] + -4) | 0; c.mmu.probeWrite(L, 4, false); fa = c.mmu.read32(L, false); fb = 3; fv = (fa + fb) | 0; s.setLazy(1, fa, fb, fv, 32); c.mmu.write32(L, fv, false); }
if (c.codeWrites !== w0) { s.eip = (e0 + 10) | 0; c.instructions += 3; return; }
// cmp (153)
c.startEip = (e0 + 10) | 0;
fa = c.mmu.read8((r[6]) | 0, false); fb = 0; fv = (fa - fb) & 255; s.setLazy(3, fa, fb, fv, 8);
s.eip = (e0 + 13) | 0;
c.instructions += 4;
