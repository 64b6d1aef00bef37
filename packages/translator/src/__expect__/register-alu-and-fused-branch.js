// mov eax, ebx; add eax, 5; cmp eax, ecx; jb 0x1000; inc edx; jnz 0x1000
return (function region(c, s, r, pc) {
const e0 = (s.eip - pc) | 0;
const w0 = c.codeWrites;
let lim = c.blockEnd - c.instructions;
let r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3];
let fa = 0, fb = 0, fv = 0, fo = 0, n = 0, q = 1, ic = 0, kk = 0, rv = 0, L = 0, e = 0, rt = 0, xo = 0;
s.interruptShadow = false;
try {
y: {
x: for (;;) {
switch (pc) {
case 0:
// block at 0
if (ic + 4 > lim) { xo = 0; break x; }
// mov (535)
r0 = r3;
// add (19)
fa = r0; fb = 5; fv = (fa + fb) | 0; r0 = fv;
fo = 1;
// cmp (143)
fa = r0; fb = r1; fv = (fa - fb) | 0;
fo = 3;
// jb (278)
ic += 4;
if (((fa >>> 0) < (fb >>> 0))) { pc = 0; continue; }
case 9:
// block at 9
if (ic + 2 > lim) { xo = 9; break x; }
// inc (458)
if (fo !== 0) { s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32); fo = 0; }
fa = r2; fb = 1; fv = (fa + 1) | 0; r2 = fv;
fo = 6;
// jne (308)
ic += 2;
if (!(fv === 0)) { pc = 0; continue; }
xo = 12; break x;
default: break y;
}
}
s.eip = (e0 + xo) | 0;
}
} catch (z) { if (q !== 0) { r[0] = r0; r[2] = r2; } if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32); c.startEip = (e0 + (I[kk >> 6].ip & 4095)) | 0; c.instructions += ic + (kk & 63); throw z; }
r[0] = r0; r[2] = r2; if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32);
c.instructions += ic + n;
return rv;
});
