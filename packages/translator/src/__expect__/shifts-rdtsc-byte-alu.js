// shl eax, 4; jc 0x1000; sar edx, cl; rdtsc; xor bl, [esi + 1]; shr ecx, 1; jz 0x1000; shr ax, 5; sar bh, 3; shl dl, 1
const T = M.tlbRead, B = M.ram, NB = M.ramBytes;
return (function region(c, s, r, pc) {
const e0 = (s.eip - pc) | 0;
const w0 = c.codeWrites;
let lim = c.blockEnd - c.instructions;
let r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3], r6 = r[6];
let fa = 0, fb = 0, fv = 0, fo = 0, n = 0, q = 1, ic = 0, kk = 0, rv = 0, L = 0, e = 0, rt = 0, xo = 0;
s.interruptShadow = false;
try {
y: {
x: for (;;) {
switch (pc) {
case 0:
// block at 0
if (ic + 2 > lim) { xo = 0; break x; }
// shl (215)
fa = r0; fb = 4; fv = (fa << 4) | 0; r0 = fv;
fo = 8;
// jb (278)
ic += 2;
if ((((fa >>> (32 - fb)) & 1) !== 0)) { pc = 0; continue; }
case 5:
// block at 5
if (ic + 5 > lim) { xo = 5; break x; }
// sar (253)
if (fo !== 0) { s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32); fo = 0; }
{ const k = r1 & 31; if (k !== 0) { fa = r2; fb = k; fv = (fa >> k) | 0; r2 = fv; fo = 10; } }
// rdtsc (824)
c.startEip = (e0 + 7) | 0; kk = 193;
if (fo !== 0) { s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32); fo = 0; }
s.eip = (e0 + 9) | 0;
rt = ic + 2; c.instructions += rt; ic -= rt; lim -= rt;
r[0] = r0; r[1] = r1; r[2] = r2; r[3] = r3; q = 0;
if (!c.execSensitive(I[3])) { r0 = r[0]; r1 = r[1]; r2 = r[2]; r3 = r[3]; r6 = r[6]; q = 1; n = 2; break y; }
r0 = r[0]; r1 = r[1]; r2 = r[2]; r3 = r[3]; r6 = r[6]; q = 1;
if (c.codeWrites !== w0) { xo = 9; n = 2; break x; }
// xor (125)
{ const v = ((r3 & 255) ^ (L = (r6 + 1) | 0, e = (L + T[L >>> 12]) >>> 0, e < NB ? B[e] : (kk = 258, M.read8(L, false)))) & 255; r3 = (r3 & -256) | v; }
// shr (228)
fa = r1; fb = 1; fv = (fa >>> 1) | 0; r1 = fv;
fo = 9;
// je (298)
ic += 5;
if ((fv === 0)) { pc = 0; continue; }
case 16:
// block at 16
if (ic + 3 > lim) { xo = 16; break x; }
// shr (224)
if (fo !== 0) { s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32); fo = 0; }
fa = (r0 & 65535); fv = fa >>> 5; s.setLazy(9, fa, 5, fv, 16); r0 = (r0 & -65536) | fv;
// sar (245)
fa = ((r3 >> 8) & 255); fv = (((fa << 24) >> 24) >> 3) & 255; s.setLazy(10, fa, 3, fv, 8); r3 = (r3 & -65281) | (fv << 8);
// shl (210)
fa = (r2 & 255); fv = (fa << 1) & 255; s.setLazy(8, fa, 1, fv, 8); r2 = (r2 & -256) | fv;
ic += 3;
xo = 25; break x;
default: break y;
}
}
s.eip = (e0 + xo) | 0;
}
} catch (z) { if (q !== 0) { r[0] = r0; r[1] = r1; r[2] = r2; r[3] = r3; } if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32); c.startEip = (e0 + (I[kk >> 6].ip & 4095)) | 0; c.instructions += ic + (kk & 63); throw z; }
r[0] = r0; r[1] = r1; r[2] = r2; r[3] = r3; if (fo !== 0) s.setLazy(fo & -257, fa, fb, fv, fo > 256 ? 8 : 32);
c.instructions += ic + n;
return rv;
});
