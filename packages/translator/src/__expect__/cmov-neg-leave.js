// cmp eax, ebx; cmovl eax, ebx; jge 0x1000; neg ecx; mov al, bh; leave; ret
const T = M.tlbRead, D = M.ram32, ND = M.ramDwords;
return (function region(c, s, r, pc) {
const e0 = (s.eip - pc) | 0;
const w0 = c.codeWrites;
let lim = c.blockEnd - c.instructions;
let r0 = r[0], r1 = r[1], r3 = r[3], r4 = r[4], r5 = r[5];
let fa = 0, fb = 0, fv = 0, fo = 0, n = 0, q = 1, ic = 0, kk = 0, rv = 0, L = 0, e = 0, rt = 0, xo = 0;
s.interruptShadow = false;
try {
y: {
x: for (;;) {
switch (pc) {
case 0:
// block at 0
if (ic + 3 > lim) { xo = 0; break x; }
// cmp (143)
fa = r0; fb = r3; fv = (fa - fb) | 0;
fo = 3;
// cmovl (385)
{ const v = r3; if ((fa < fb)) r0 = v; }
// jge (388)
ic += 3;
if (!(fa < fb)) { pc = 0; continue; }
case 7:
// block at 7
if (ic + 4 > lim) { xo = 7; break x; }
// neg (431)
fa = 0; fb = r1; fv = (0 - fb) | 0; r1 = fv;
fo = 3;
// mov (533)
r0 = (r0 & -256) | ((r3 >> 8) & 255);
// leave (531)
{ const v = (L = r5, e = L + T[L >>> 12], e = ((e >>> 2) | (e << 30)) >>> 0, e < ND ? D[e] : (kk = 322, M.read32(L, false))); r4 = (r5 + 4) | 0; r5 = v; }
// ret (770)
{ const t = (L = r4, e = L + T[L >>> 12], e = ((e >>> 2) | (e << 30)) >>> 0, e < ND ? D[e] : (kk = 387, M.read32(L, false))); r4 = (r4 + 4) | 0; s.eip = t; }
ic += 4;
pc = (s.eip - e0) | 0; continue;
default: break y;
}
}
s.eip = (e0 + xo) | 0;
}
} catch (z) { if (q !== 0) { r[0] = r0; r[1] = r1; r[4] = r4; r[5] = r5; } if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32); c.startEip = (e0 + (I[kk >> 6].ip & 4095)) | 0; c.instructions += ic + (kk & 63); throw z; }
r[0] = r0; r[1] = r1; r[4] = r4; r[5] = r5; if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32);
c.instructions += ic + n;
return rv;
});
