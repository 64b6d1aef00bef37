// push ebp; mov ebp, esp; push 7; call 0x2000; pop ebp; ret
const e0 = s.eip;
const w0 = c.codeWrites;
let fa = 0;
let fb = 0;
let fv = 0;
s.interruptShadow = false;
// push (474)
c.startEip = (e0 + 0) | 0;
{ const v = r[5]; const sp = (r[4] - 4) | 0; c.mmu.write32(sp, v, false); r[4] = sp; }
if (c.codeWrites !== w0) { s.eip = (e0 + 1) | 0; c.instructions += 1; return; }
// mov (535)
r[5] = r[4];
// push (489)
c.startEip = (e0 + 3) | 0;
{ const v = 7; const sp = (r[4] - 4) | 0; c.mmu.write32(sp, v, false); r[4] = sp; }
if (c.codeWrites !== w0) { s.eip = (e0 + 5) | 0; c.instructions += 3; return; }
// call (748)
c.startEip = (e0 + 5) | 0;
{ const sp = (r[4] - 4) | 0; c.mmu.write32(sp, (e0 + 10) | 0, false); r[4] = sp; s.eip = (((e0 + 10) | 0) + 4086) | 0; }
if (c.codeWrites !== w0) { s.eip = (e0 + 10) | 0; c.instructions += 4; return; }
// pop (477)
c.startEip = (e0 + 10) | 0;
{ const v = c.mmu.read32(r[4], false); r[4] = (r[4] + 4) | 0; r[5] = v; }
// ret (770)
c.startEip = (e0 + 11) | 0;
{ const t = c.mmu.read32(r[4], false); r[4] = (r[4] + 4) | 0; s.eip = t; }
c.instructions += 6;
