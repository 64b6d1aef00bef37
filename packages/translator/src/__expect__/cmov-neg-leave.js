// cmp eax, ebx; cmovl eax, ebx; jge 0x1000; neg ecx; mov al, bh; leave; ret
const e0 = s.eip;
const w0 = c.codeWrites;
let fa = 0;
let fb = 0;
let fv = 0;
s.interruptShadow = false;
// cmp (143)
fa = r[0]; fb = r[3]; fv = (fa - fb) | 0; s.setLazy(3, fa, fb, fv, 32);
// cmovl (385)
{ const v = r[3]; if ((fa < fb)) r[0] = v; }
// jge (388)
s.eip = !(fa < fb) ? (((e0 + 7) | 0) + -7) | 0 : (e0 + 7) | 0;
if (s.eip !== ((e0 + 7) | 0)) { c.instructions += 3; return; }
// neg (431)
r[1] = X.neg(s, r[1], 32);
// mov (533)
r[0] = (r[0] & -256) | ((r[3] >> 8) & 255);
// leave (531)
c.startEip = (e0 + 11) | 0;
{ const v = c.mmu.read32(r[5], false); r[4] = (r[5] + 4) | 0; r[5] = v; }
// ret (770)
c.startEip = (e0 + 12) | 0;
{ const t = c.mmu.read32(r[4], false); r[4] = (r[4] + 4) | 0; s.eip = t; }
c.instructions += 7;
